// One extension's forwarding state (F-FWD) as a value: the four conditions, the up-to-five stored
// destinations they point into, the no-answer time and DND; how the YAML seeds it, how it is stored as JSON,
// and where a new destination is put. ForwardingService (forwarding.ts) keeps and changes these states.
import type { ExtensionConfig } from '../config/schema.js';

export type ForwardCondition = 'cfu' | 'cfb' | 'cfna' | 'cfur';
export const forwardConditions: readonly ForwardCondition[] = ['cfu', 'cfb', 'cfna', 'cfur'];

export const MAX_DESTINATIONS = 5;
export const DEFAULT_NO_ANSWER_TIMEOUT = 20;
/** The range the YAML allows for forwarding.noAnswerTimeout; a stored state outside it is not read back. */
export const MIN_NO_ANSWER_TIMEOUT = 1;
export const MAX_NO_ANSWER_TIMEOUT = 180;

export interface ForwardingState {
  /** At most MAX_DESTINATIONS stored destinations, oldest first. */
  destinations: string[];
  /** `destination` is an index into `destinations`; it is kept while the condition is off. */
  conditions: Record<ForwardCondition, { on: boolean; destination: number | null }>;
  noAnswerTimeout: number;
  dnd: boolean;
}

const CONDITION_YAML_KEY = { cfu: 'unconditional', cfb: 'busy', cfna: 'noAnswer', cfur: 'unreachable' } as const;

export function emptyState(): ForwardingState {
  return {
    destinations: [],
    conditions: { cfu: off(), cfb: off(), cfna: off(), cfur: off() },
    noAnswerTimeout: DEFAULT_NO_ANSWER_TIMEOUT,
    dnd: false,
  };
}

function off(): { on: boolean; destination: number | null } {
  return { on: false, destination: null };
}

/** The extension's YAML forwarding and DND, in a fixed key order so equal settings give equal text. */
export function adminJson(ext: ExtensionConfig): string {
  const f = ext.forwarding;
  return JSON.stringify({
    destinations: f.destinations,
    unconditional: f.unconditional ?? null,
    busy: f.busy ?? null,
    noAnswer: f.noAnswer ?? null,
    unreachable: f.unreachable ?? null,
    noAnswerTimeout: f.noAnswerTimeout,
    dnd: ext.dnd,
  });
}

/** YAML → state: the listed destinations, then each named condition's (deduplicated). */
export function stateFromConfig(ext: ExtensionConfig): ForwardingState {
  const f = ext.forwarding;
  const st = emptyState();
  const index = (d: string): number | null => {
    const i = st.destinations.indexOf(d);
    if (i >= 0) return i;
    // The schema allows at most 5 distinct destinations; the guard only keeps a bad row from growing.
    if (st.destinations.length >= MAX_DESTINATIONS) return null;
    st.destinations.push(d);
    return st.destinations.length - 1;
  };
  for (const d of f.destinations) index(d);
  for (const c of forwardConditions) {
    const d = f[CONDITION_YAML_KEY[c]];
    if (d === undefined) continue;
    const i = index(d);
    st.conditions[c] = { on: i !== null, destination: i };
  }
  st.noAnswerTimeout = f.noAnswerTimeout;
  st.dnd = ext.dnd;
  return st;
}

/** A stored state as read back; anything malformed (a hand-edited row) yields undefined. */
export function parseState(json: string): ForwardingState | undefined {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (!Array.isArray(o.destinations) || !o.destinations.every((d) => typeof d === 'string') || o.destinations.length > MAX_DESTINATIONS) return undefined;
  const destinations = o.destinations as string[];
  if (typeof o.conditions !== 'object' || o.conditions === null) return undefined;
  const conds = o.conditions as Record<string, unknown>;
  const st = emptyState();
  st.destinations = [...destinations];
  for (const c of forwardConditions) {
    const x = conds[c] as { on?: unknown; destination?: unknown } | undefined;
    if (x === undefined) continue;
    if (typeof x !== 'object' || x === null || typeof x.on !== 'boolean') return undefined;
    const d = x.destination;
    const valid = d === null || (typeof d === 'number' && Number.isInteger(d) && d >= 0 && d < destinations.length);
    st.conditions[c] = { on: x.on && valid && d !== null, destination: valid ? (d as number | null) : null };
  }
  if (typeof o.noAnswerTimeout === 'number' && Number.isInteger(o.noAnswerTimeout) && o.noAnswerTimeout >= MIN_NO_ANSWER_TIMEOUT && o.noAnswerTimeout <= MAX_NO_ANSWER_TIMEOUT)
    st.noAnswerTimeout = o.noAnswerTimeout;
  st.dnd = o.dnd === true;
  return st;
}

export function cloneState(st: ForwardingState): ForwardingState {
  return {
    destinations: [...st.destinations],
    conditions: { cfu: { ...st.conditions.cfu }, cfb: { ...st.conditions.cfb }, cfna: { ...st.conditions.cfna }, cfur: { ...st.conditions.cfur } },
    noAnswerTimeout: st.noAnswerTimeout,
    dnd: st.dnd,
  };
}

/** The destination a condition forwards to now, or undefined when it is off. */
export function conditionDestination(st: ForwardingState, c: ForwardCondition): string | undefined {
  const x = st.conditions[c];
  return x.on && x.destination !== null ? st.destinations[x.destination] : undefined;
}

/**
 * Where a new destination goes: its existing slot, a free one, else the slot this condition used, else the
 * oldest slot no other condition points at, else the oldest one no other *active* condition uses (an
 * inactive condition that pointed there forgets it rather than silently inheriting the new number).
 * Undefined when every slot is in use.
 */
export function placeDestination(st: ForwardingState, condition: ForwardCondition, destination: string): number | undefined {
  const existing = st.destinations.indexOf(destination);
  if (existing >= 0) return existing;
  if (st.destinations.length < MAX_DESTINATIONS) {
    st.destinations.push(destination);
    return st.destinations.length - 1;
  }
  const others = forwardConditions.filter((c) => c !== condition).map((c) => st.conditions[c]);
  const usedByActive = (i: number) => others.some((x) => x.on && x.destination === i);
  const referenced = (i: number) => others.some((x) => x.destination === i);
  const own = st.conditions[condition].destination;
  const slots = [...st.destinations.keys()];
  const slot = (own !== null && !usedByActive(own) ? own : undefined) ?? slots.find((i) => !referenced(i)) ?? slots.find((i) => !usedByActive(i));
  if (slot === undefined) return undefined;
  st.destinations[slot] = destination;
  for (const x of others) if (x.destination === slot) x.destination = null;
  return slot;
}
