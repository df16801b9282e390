// A typed event emitter for objects held for the whole of a call (the call, its dialogs). node:events'
// EventEmitter keeps its listeners in a dictionary-mode object (a hash table with its own backing store),
// an array per event with more than one listener, and wraps every once() listener in a bound function
// with a state object: for a call and its two dialogs that was about 2.5 KB of every call held (issue #13
// goal 5, heap snapshot of calls-held). Here every listener of every event is one entry of a single flat
// array, scanned on emit (a call or dialog has a handful).
//
// Semantics follow EventEmitter where hibiki relies on them: listeners run in the order they were added;
// emit calls the listeners there were when it started (one removed or added meanwhile does not change
// that round); a once() listener is removed before it runs; off() removes the most recently added
// registration of that function, once() or not; emit returns whether any listener ran. No 'error'
// special case, no newListener/removeListener events, no listener limit.

type Args<E, K extends keyof E> = E[K] extends unknown[] ? E[K] : never;
type Listener<E, K extends keyof E> = (...args: Args<E, K>) => void;

/**
 * One object that takes several events through its methods (named after the events), as the first
 * listener of each: a handful of closures per long-lived object, each with its own function object and
 * a shared context, cost several hundred bytes more than one small object with methods on its prototype.
 */
export type EventDelegate<E> = { [K in keyof E]?: Listener<E, K> };

/** Stride of the flat listener array: event name, function, once flag. */
const STRIDE = 3;

export class CompactEmitter<E extends { [K in keyof E]: unknown[] }> {
  /** [event, fn, once, event, fn, once, …]; undefined until the first listener. */
  private slots: unknown[] | undefined;
  private delegate: EventDelegate<E> | undefined;

  /** Hands every event `delegate` has a method for to that method, before the other listeners. */
  delegateTo(delegate: EventDelegate<E>): this {
    this.delegate = delegate;
    return this;
  }

  on<K extends keyof E & string>(event: K, fn: Listener<E, K>): this {
    (this.slots ??= []).push(event, fn, false);
    return this;
  }

  once<K extends keyof E & string>(event: K, fn: Listener<E, K>): this {
    (this.slots ??= []).push(event, fn, true);
    return this;
  }

  off<K extends keyof E & string>(event: K, fn: Listener<E, K>): this {
    const slots = this.slots;
    if (!slots) return this;
    for (let i = slots.length - STRIDE; i >= 0; i -= STRIDE) {
      if (slots[i] === event && slots[i + 1] === fn) {
        slots.splice(i, STRIDE);
        break;
      }
    }
    return this;
  }

  /** The same as off(), under the name node:events' once() helper and older code use. */
  removeListener<K extends keyof E & string>(event: K, fn: Listener<E, K>): this {
    return this.off(event, fn);
  }

  removeAllListeners(event?: keyof E & string): this {
    const slots = this.slots;
    if (event === undefined) this.delegate = undefined;
    // Shadowed, not copied: a spread would drop the methods a class delegate has on its prototype.
    else if (this.delegate?.[event]) this.delegate = Object.create(this.delegate, { [event]: { value: undefined } }) as EventDelegate<E>;
    if (!slots || event === undefined) {
      this.slots = undefined;
      return this;
    }
    for (let i = slots.length - STRIDE; i >= 0; i -= STRIDE) if (slots[i] === event) slots.splice(i, STRIDE);
    return this;
  }

  listenerCount(event: keyof E & string): number {
    const slots = this.slots;
    let n = this.delegate?.[event] ? 1 : 0;
    if (slots) for (let i = 0; i < slots.length; i += STRIDE) if (slots[i] === event) n++;
    return n;
  }

  /** The events that have listeners, in the order of their first listener. */
  eventNames(): Array<keyof E & string> {
    const names: Array<keyof E & string> = [];
    const delegate = this.delegate;
    // A delegate's methods are mostly on its prototype chain.
    for (let o: object | null = delegate ?? null; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
      for (const name of Object.getOwnPropertyNames(o) as Array<keyof E & string>) {
        if (name !== 'constructor' && typeof delegate?.[name] === 'function' && !names.includes(name)) names.push(name);
      }
    }
    const slots = this.slots;
    if (slots) for (let i = 0; i < slots.length; i += STRIDE) if (!names.includes(slots[i] as keyof E & string)) names.push(slots[i] as keyof E & string);
    return names;
  }

  emit<K extends keyof E & string>(event: K, ...args: Args<E, K>): boolean {
    const delegate = this.delegate;
    const method = delegate?.[event];
    // Collected first: what a listener adds or removes applies from the next emit on.
    const due = this.due(event);
    if (!method && due === undefined) return false;
    method?.apply(delegate, args);
    if (typeof due === 'function') due.apply(this, args);
    else if (due) for (const fn of due) fn.apply(this, args);
    return true;
  }

  /** The listeners of `event` for this round (once() ones removed): none, one, or several in order. */
  private due<K extends keyof E & string>(event: K): Listener<E, K> | Array<Listener<E, K>> | undefined {
    const slots = this.slots;
    if (!slots) return undefined;
    let single: Listener<E, K> | undefined;
    let several: Array<Listener<E, K>> | undefined;
    for (let i = 0; i < slots.length; i += STRIDE) {
      if (slots[i] !== event) continue;
      const fn = slots[i + 1] as Listener<E, K>;
      if (slots[i + 2] === true) {
        slots.splice(i, STRIDE);
        i -= STRIDE;
      }
      if (several) several.push(fn);
      else if (single) several = [single, fn];
      else single = fn;
    }
    return several ?? single;
  }
}
