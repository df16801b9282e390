// The emitter the call and its dialogs use instead of node:events (issue #13, memory per call): the same
// order, once, off and emit-round semantics as EventEmitter, checked side by side with it.
import { EventEmitter } from 'node:events';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { CompactEmitter } from '../../../src/util/compact-emitter.js';

interface Events {
  a: [n: number];
  b: [];
}

type Like = {
  on(e: 'a' | 'b', fn: (...args: number[]) => void): unknown;
  once(e: 'a' | 'b', fn: (...args: number[]) => void): unknown;
  off(e: 'a' | 'b', fn: (...args: number[]) => void): unknown;
  emit(e: 'a' | 'b', ...args: number[]): boolean;
  listenerCount(e: 'a' | 'b'): number;
  removeAllListeners(e?: 'a' | 'b'): unknown;
};

/** Runs the same script against EventEmitter and CompactEmitter and returns both logs. */
function both(script: (em: Like, log: string[]) => void): [string[], string[]] {
  const logs: [string[], string[]] = [[], []];
  script(new EventEmitter() as unknown as Like, logs[0]);
  script(new CompactEmitter<Events>() as unknown as Like, logs[1]);
  return logs;
}

describe('CompactEmitter', () => {
  it('calls listeners in the order added, with the arguments, and says whether any ran', () => {
    const [node, compact] = both((em, log) => {
      em.on('a', (n) => log.push(`1:${n}`));
      em.once('a', (n) => log.push(`2:${n}`));
      em.on('a', (n) => log.push(`3:${n}`));
      em.on('b', () => log.push('b'));
      log.push(String(em.emit('a', 7)));
      log.push(String(em.emit('a', 8)));
      log.push(String(em.emit('b')));
      em.removeAllListeners('a');
      log.push(String(em.emit('a', 9)), String(em.listenerCount('b')));
      em.removeAllListeners();
      log.push(String(em.emit('b')));
    });
    expect(compact).toEqual(node);
    expect(compact).toEqual(['1:7', '2:7', '3:7', 'true', '1:8', '3:8', 'true', 'b', 'true', 'false', '1', 'false']);
  });

  it('an emit round calls the listeners there were when it started, whatever they add or remove', () => {
    const [node, compact] = both((em, log) => {
      const late = (n: number) => log.push(`late:${n}`);
      const second = (n: number) => log.push(`second:${n}`);
      em.on('a', (n) => {
        log.push(`first:${n}`);
        em.off('a', second);
        em.on('a', late);
      });
      em.on('a', second);
      em.emit('a', 1);
      em.emit('a', 2);
    });
    expect(compact).toEqual(node);
  });

  it('off removes the latest registration of a function, once() or not; a once listener runs once even when emitted from inside itself', () => {
    const [node, compact] = both((em, log) => {
      const f = (n: number) => log.push(`f:${n}`);
      em.on('a', f);
      em.once('a', f);
      em.off('a', f);
      em.emit('a', 1);
      em.emit('a', 2);
      em.once('b', () => {
        log.push('b');
        em.emit('b');
      });
      em.emit('b');
      log.push(String(em.listenerCount('a')), String(em.listenerCount('b')));
    });
    expect(compact).toEqual(node);
  });

  it('works with node:events once()', async () => {
    const em = new CompactEmitter<Events>();
    const got = once(em as unknown as EventEmitter, 'a');
    em.emit('a', 5);
    expect(await got).toEqual([5]);
    expect(em.eventNames()).toEqual([]);
  });

  it('hands the events a delegate has methods for to them, first, as one more listener; removeAllListeners lets it go', () => {
    const em = new CompactEmitter<Events>();
    const log: string[] = [];
    class Delegate {
      constructor(private readonly name: string) {}
      a(n: number): void {
        log.push(`${this.name}:${n}`);
      }
    }
    expect(em.emit('a', 0)).toBe(false);
    em.delegateTo(new Delegate('d'));
    expect(em.emit('a', 1)).toBe(true);
    em.on('a', (n) => log.push(`l:${n}`));
    em.emit('a', 2);
    expect(em.emit('b')).toBe(false);
    expect(em.listenerCount('a')).toBe(2);
    expect(em.listenerCount('b')).toBe(0);
    expect(em.eventNames()).toEqual(['a']);
    em.removeAllListeners();
    expect(em.emit('a', 3)).toBe(false);
    expect(log).toEqual(['d:1', 'd:2', 'l:2']);
    // Removing one event's listeners leaves the delegate's other methods, which live on its prototype.
    class Both extends Delegate {
      b(): void {
        log.push('b');
      }
    }
    em.delegateTo(new Both('e'));
    em.removeAllListeners('a');
    expect(em.emit('a', 4)).toBe(false);
    expect(em.emit('b')).toBe(true);
    expect(log.at(-1)).toBe('b');
  });
});
