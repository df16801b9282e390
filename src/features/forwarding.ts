// Call forwarding state (F-FWD): the per-extension conditions and stored destinations, DND, schedule
// forwarding (時間帯転送) and bulk forwarding (一括転送), and what of it applies to a call arriving now.
// The YAML seeds the state; service codes and the CLI change it at run time. "Last edit wins": a run-time
// change is kept across restarts and reloads until the admin edits that extension's YAML forwarding.
import type { Logger } from 'pino';
import type { Database } from 'better-sqlite3';
import type { ExtensionConfig, HibikiConfig } from '../config/schema.js';
import { ForwardingStore } from '../store/forwarding-store.js';
import { forwardDestinationVerdict, isParkNumber, type DestinationContext, type Verdict } from '../rules/number-rules.js';
import { canonicalDid } from '../rules/numbers.js';
import { matchScheduleIndex, tenantHolidays } from './schedule.js';
import {
  adminJson,
  cloneState,
  conditionDestination,
  emptyState,
  MAX_DESTINATIONS,
  MAX_NO_ANSWER_TIMEOUT,
  MIN_NO_ANSWER_TIMEOUT,
  parseState,
  placeDestination,
  stateFromConfig,
  type ForwardCondition,
  type ForwardingState,
} from './forwarding-state.js';

// The state's vocabulary is part of this module's interface for its callers (routes, CLI, codes).
export {
  adminJson,
  conditionDestination,
  DEFAULT_NO_ANSWER_TIMEOUT,
  forwardConditions,
  MAX_DESTINATIONS,
  MAX_NO_ANSWER_TIMEOUT,
  MIN_NO_ANSWER_TIMEOUT,
  stateFromConfig,
  type ForwardCondition,
  type ForwardingState,
} from './forwarding-state.js';

export interface EffectiveForwarding {
  cfu?: string;
  cfb?: string;
  cfna?: string;
  cfur?: string;
  noAnswerTimeout: number;
  dnd: boolean;
  source: 'normal' | 'schedule' | 'bulk';
}

export type SetConditionResult = { ok: true; destination?: string } | { ok: false; reason: string };

export interface BulkResult {
  /** The extension number or DID. */
  member: string;
  kind: 'extension' | 'did';
  result: 'ok' | 'unchanged' | 'error';
  /** The member's bulk destination, when it has one. */
  destination?: string;
  detail?: string;
}

/** A change of an extension's forwarding or DND at run time (phone codes, API, CLI in this process, bulk sets). */
export interface ForwardingChange {
  extension: string;
  what: ForwardCondition | 'dnd' | 'noAnswerTimeout' | 'bulk';
  by: ChangedBy;
}

export interface BulkStatus {
  name: string;
  active: boolean;
  changedAt?: number;
  members: number;
}

export interface ForwardingDeps {
  db: Database;
  config: () => HibikiConfig;
  now: () => number;
  logger: Logger;
}

/** Who made a change, for the log: 'service-code', 'cli', 'api', 'config'. */
export type ChangedBy = string;

type BulkMember = HibikiConfig['bulkForwarding'][number]['members'][number];

/** Lookups derived from one config object, rebuilt when the config object changes (reload). */
interface ConfigIndex {
  config: HibikiConfig;
  extensions: Map<string, ExtensionConfig>;
  /** What the F-FWD destination rules need to know of the dial plan (local numbers, park, routes, 184/186). */
  destinations: DestinationContext;
  /** extension / DID (canonical form, see canonicalDid) → its bulk memberships, in config order. */
  bulkByExtension: Map<string, Array<{ set: string; member: BulkMember }>>;
  bulkByDid: Map<string, Array<{ set: string; member: BulkMember }>>;
  /** Schedule rows already reported as unusable (one warning per reload, not per call). */
  warned: Set<string>;
}

export class ForwardingService {
  private readonly store: ForwardingStore;
  private index: ConfigIndex | undefined;
  private readonly changeListeners = new Set<(c: ForwardingChange) => void>();

  /** Be told of every run-time change (the event stream); returns the unsubscribe. */
  onChange(fn: (c: ForwardingChange) => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  private changed(c: ForwardingChange): void {
    for (const fn of this.changeListeners) fn(c);
  }

  constructor(private readonly deps: ForwardingDeps) {
    this.store = new ForwardingStore(deps.db);
  }

  /**
   * Seed or re-seed each extension's state from the YAML: an extension without a row, or whose YAML
   * forwarding/DND differs from what was applied last, takes the YAML; otherwise its run-time state stays.
   */
  applyConfig(config: HibikiConfig): void {
    const now = this.deps.now();
    const reseeded: string[] = [];
    const created: string[] = [];
    this.store.exclusive(() => {
      for (const ext of config.extensions) {
        const admin = adminJson(ext);
        const row = this.store.get(ext.number);
        if (row && row.admin === admin) continue;
        this.store.put(ext.number, JSON.stringify(stateFromConfig(ext)), admin, now);
        (row ? reseeded : created).push(ext.number);
      }
    });
    for (const extension of reseeded) {
      this.deps.logger.info({ event: 'forwarding', extension, by: 'config', state: this.state(extension) }, 'forwarding set from the edited configuration');
    }
    if (created.length > 0) this.deps.logger.debug({ event: 'forwarding', extensions: created.length, by: 'config' }, 'forwarding seeded from the configuration');
  }

  /** The stored state of an extension (the YAML's when it has no row; empty for an unknown number). */
  state(extension: string): ForwardingState {
    const row = this.store.get(extension);
    if (row) {
      const st = parseState(row.state);
      if (st) return st;
      this.deps.logger.warn({ event: 'forwarding', extension }, 'stored forwarding state unreadable; using the configuration');
    }
    const ext = this.indexOf(this.deps.config()).extensions.get(extension);
    return ext ? stateFromConfig(ext) : emptyState();
  }

  /** What applies to a call arriving now: bulk forwarding, else a matching schedule row, else the normal state. */
  effective(extension: string): EffectiveForwarding {
    const config = this.deps.config();
    const idx = this.indexOf(config);
    const st = this.state(extension);
    const base = { noAnswerTimeout: st.noAnswerTimeout, dnd: st.dnd };

    const bulk = this.activeBulk(idx, idx.bulkByExtension.get(extension), extension);
    if (bulk) return { cfu: bulk.destination, ...base, source: 'bulk' };

    const ext = idx.extensions.get(extension);
    const schedule = ext?.forwardingSchedule !== undefined ? config.schedules.find((s) => s.name === ext.forwardingSchedule) : undefined;
    if (ext && schedule) {
      const rowIndex = matchScheduleIndex(schedule.rows, this.deps.now(), config.tenant.timezone, tenantHolidays(config.tenant));
      const row = rowIndex >= 0 ? schedule.rows[rowIndex] : undefined;
      if (row) {
        if (row.action === 'none' || row.destination === undefined) return { ...base, source: 'schedule' };
        const v = this.verdict(idx, ext, row.destination);
        if (!v.ok) {
          // The row still wins (its time window is not "normal"), but an unusable number is never dialled.
          const key = `${schedule.name}/${rowIndex}/${extension}`;
          if (!idx.warned.has(key)) {
            idx.warned.add(key);
            this.deps.logger.warn({ event: 'forwarding', extension, schedule: schedule.name, row: rowIndex, destination: row.destination, reason: v.reason }, 'schedule row destination refused');
          }
          return { ...base, source: 'schedule' };
        }
        return { [row.action]: row.destination, ...base, source: 'schedule' };
      }
    }

    const cfu = conditionDestination(st, 'cfu');
    if (cfu !== undefined) return { cfu, ...base, source: 'normal' };
    const eff: EffectiveForwarding = { ...base, source: 'normal' };
    for (const c of ['cfb', 'cfna', 'cfur'] as const) {
      const d = conditionDestination(st, c);
      if (d !== undefined) eff[c] = d;
    }
    return eff;
  }

  /**
   * Bulk destination of an inbound DID while a bulk set containing it is on. The DID matches a member in
   * either form (+81312345678 arriving finds a member written 0312345678, and the other way round), and
   * with or without a leading +.
   */
  didBulkDestination(did: string): string | undefined {
    const idx = this.indexOf(this.deps.config());
    const memberships = idx.bulkByDid.get(canonicalDid(did)) ?? idx.bulkByDid.get(canonicalDid(did.startsWith('+') ? did.slice(1) : `+${did}`));
    return this.activeBulk(idx, memberships, undefined)?.destination;
  }

  /**
   * Turn a condition on (with a new destination, or the one it used last, or the first stored one) or off.
   * A new destination must pass the F-FWD rules; nothing changes when the result is not ok.
   */
  setCondition(extension: string, condition: ForwardCondition, on: boolean, destination?: string, by: ChangedBy = 'api'): SetConditionResult {
    const config = this.deps.config();
    const idx = this.indexOf(config);
    const ext = idx.extensions.get(extension);
    if (!ext) return { ok: false, reason: `unknown extension ${extension}` };
    const result = this.store.exclusive((): SetConditionResult => {
      const st = cloneState(this.state(extension));
      const cond = st.conditions[condition];
      if (!on) {
        const previous = cond.destination !== null ? st.destinations[cond.destination] : undefined;
        cond.on = false;
        this.save(ext, st);
        return previous !== undefined ? { ok: true, destination: previous } : { ok: true };
      }
      let slot: number;
      const wanted = destination?.replace(/-/g, '');
      if (wanted !== undefined && wanted !== '') {
        const v = this.verdict(idx, ext, wanted);
        if (!v.ok) return v;
        const placed = placeDestination(st, condition, wanted);
        if (placed === undefined) return { ok: false, reason: `${MAX_DESTINATIONS} destinations stored` };
        slot = placed;
      } else {
        const last = cond.destination ?? (st.destinations.length > 0 ? 0 : null);
        if (last === null || st.destinations[last] === undefined) return { ok: false, reason: 'no stored destination' };
        // Rules may have changed since the number was stored (restriction list, outbound class).
        const v = this.verdict(idx, ext, st.destinations[last]);
        if (!v.ok) return v;
        slot = last;
      }
      st.conditions[condition] = { on: true, destination: slot };
      this.save(ext, st);
      return { ok: true, destination: st.destinations[slot] };
    });
    const log = { event: 'forwarding', extension, condition, on, destination: result.ok ? result.destination : destination, by };
    if (result.ok) {
      this.deps.logger.info(log, 'forwarding changed');
      this.changed({ extension, what: condition, by });
    } else this.deps.logger.info({ ...log, reason: result.reason }, 'forwarding change refused');
    return result;
  }

  /** Do-not-disturb on or off. Throws for an unknown extension. */
  setDnd(extension: string, on: boolean, by: ChangedBy = 'api'): void {
    const ext = this.indexOf(this.deps.config()).extensions.get(extension);
    if (!ext) throw new Error(`unknown extension ${extension}`);
    this.store.exclusive(() => {
      const st = cloneState(this.state(extension));
      st.dnd = on;
      this.save(ext, st);
    });
    this.deps.logger.info({ event: 'forwarding', extension, condition: 'dnd', on, by }, 'do-not-disturb changed');
    this.changed({ extension, what: 'dnd', by });
  }

  /** The no-answer time before cfna applies (1–180 s, as in the YAML). Throws for an unknown extension or a bad value. */
  setNoAnswerTimeout(extension: string, seconds: number, by: ChangedBy = 'api'): void {
    const ext = this.indexOf(this.deps.config()).extensions.get(extension);
    if (!ext) throw new Error(`unknown extension ${extension}`);
    if (!Number.isInteger(seconds) || seconds < MIN_NO_ANSWER_TIMEOUT || seconds > MAX_NO_ANSWER_TIMEOUT) {
      throw new RangeError(`noAnswerTimeout must be a whole number of seconds from ${MIN_NO_ANSWER_TIMEOUT} to ${MAX_NO_ANSWER_TIMEOUT}`);
    }
    this.store.exclusive(() => {
      const st = cloneState(this.state(extension));
      st.noAnswerTimeout = seconds;
      this.save(ext, st);
    });
    this.deps.logger.info({ event: 'forwarding', extension, noAnswerTimeout: seconds, by }, 'no-answer timeout changed');
    this.changed({ extension, what: 'noAnswerTimeout', by });
  }

  /** Switch a bulk set on; per member, whether it now forwards. Throws for an unknown set. */
  bulkOn(name: string, by: ChangedBy = 'api'): BulkResult[] {
    return this.switchBulk(name, true, by);
  }

  /** Switch a bulk set off; members go back to their normal forwarding (with any edits made meanwhile). */
  bulkOff(name: string, by: ChangedBy = 'api'): BulkResult[] {
    return this.switchBulk(name, false, by);
  }

  bulkStatus(): BulkStatus[] {
    const rows = this.store.bulkRows();
    return this.deps.config().bulkForwarding.map((s) => {
      const row = rows.get(s.name);
      const status: BulkStatus = { name: s.name, active: row?.active ?? false, members: s.members.length };
      if (row) status.changedAt = row.changedAt;
      return status;
    });
  }

  private switchBulk(name: string, active: boolean, by: ChangedBy): BulkResult[] {
    const config = this.deps.config();
    const set = config.bulkForwarding.find((s) => s.name === name);
    if (!set) {
      const known = config.bulkForwarding.map((s) => s.name);
      throw new Error(`unknown bulk-forwarding set "${name}" (${known.length > 0 ? `configured: ${known.join(', ')}` : 'none configured'})`);
    }
    const idx = this.indexOf(config);
    this.store.setBulk(name, active, this.deps.now());
    const results = set.members.map((m) => this.memberResult(idx, m, active, name));
    const count = (r: BulkResult['result']) => results.filter((x) => x.result === r).length;
    this.deps.logger.info(
      {
        event: 'bulk_forwarding',
        set: name,
        active,
        by,
        ok: count('ok'),
        unchanged: count('unchanged'),
        error: count('error'),
        errors: results.filter((r) => r.result === 'error').map((r) => `${r.member}: ${r.detail}`),
      },
      active ? 'bulk forwarding on' : 'bulk forwarding off',
    );
    for (const r of results) if (r.kind === 'extension' && r.result === 'ok') this.changed({ extension: r.member, what: 'bulk', by });
    return results;
  }

  private memberResult(idx: ConfigIndex, m: BulkMember, active: boolean, setName: string): BulkResult {
    const kind = m.extension !== undefined ? 'extension' : 'did';
    const member = (m.extension ?? m.did)!;
    const r: BulkResult = { member, kind, result: 'unchanged' };
    if (m.destination !== undefined) r.destination = m.destination;
    const ext = m.extension !== undefined ? idx.extensions.get(m.extension) : undefined;
    if (kind === 'extension' && !ext) return { ...r, result: 'error', detail: `extension ${member} no longer exists` };
    if (m.destination === undefined) return { ...r, detail: 'no bulk destination' };
    const v = this.verdict(idx, ext ?? didOwner(member), m.destination);
    if (active) return v.ok ? { ...r, result: 'ok' } : { ...r, result: 'error', detail: v.reason };
    if (!v.ok) return { ...r, detail: 'was not forwarding' };
    const memberships = kind === 'extension' ? idx.bulkByExtension.get(member) : idx.bulkByDid.get(canonicalDid(member));
    const still = this.activeBulk(idx, memberships, m.extension);
    if (still && still.set !== setName) return { ...r, result: 'ok', detail: `still forwarded to ${still.destination} by bulk set ${still.set}` };
    return { ...r, result: 'ok' };
  }

  /** The first active set (config order) giving this member a usable destination. */
  private activeBulk(idx: ConfigIndex, memberships: Array<{ set: string; member: BulkMember }> | undefined, extension: string | undefined): { set: string; destination: string } | undefined {
    if (!memberships || memberships.length === 0) return undefined;
    const active = this.store.activeBulkNames();
    if (active.size === 0) return undefined;
    for (const { set, member } of memberships) {
      if (!active.has(set) || member.destination === undefined) continue;
      const owner = extension !== undefined ? idx.extensions.get(extension) : didOwner(member.did ?? '');
      if (!owner || !this.verdict(idx, owner, member.destination).ok) continue;
      return { set, destination: member.destination };
    }
    return undefined;
  }

  private verdict(idx: ConfigIndex, owner: { number: string; outboundClass: ExtensionConfig['outboundClass'] }, destination: string): Verdict {
    return forwardDestinationVerdict(destination, owner, idx.config.restrictions, idx.destinations);
  }

  private save(ext: ExtensionConfig, st: ForwardingState): void {
    this.store.putState(ext.number, JSON.stringify(st), adminJson(ext), this.deps.now());
  }

  private indexOf(config: HibikiConfig): ConfigIndex {
    if (this.index?.config === config) return this.index;
    const extensions = new Map(config.extensions.map((e) => [e.number, e]));
    const local = new Set<string>([...extensions.keys(), ...config.groups.map((g) => g.number)]);
    const destinations: DestinationContext = {
      isLocal: (n) => local.has(n),
      isParkNumber: (n) => isParkNumber(n, config.park),
      routes: config.routes,
      callPrefixes: { withhold: config.serviceCodes.withhold, present: config.serviceCodes.present },
      isMailbox: (n) => extensions.get(n)?.voicemail === true || config.voicemailBoxes.some((b) => b.number === n),
    };
    const bulkByExtension = new Map<string, Array<{ set: string; member: BulkMember }>>();
    const bulkByDid = new Map<string, Array<{ set: string; member: BulkMember }>>();
    for (const s of config.bulkForwarding) {
      for (const m of s.members) {
        const [map, key] = m.extension !== undefined ? [bulkByExtension, m.extension] : [bulkByDid, canonicalDid(m.did!)];
        const list = map.get(key) ?? [];
        list.push({ set: s.name, member: m });
        map.set(key, list);
      }
    }
    this.index = { config, extensions, destinations, bulkByExtension, bulkByDid, warned: new Set() };
    return this.index;
  }
}

/**
 * A DID has no outbound class of its own: its bulk destination is the admin's choice, so only the
 * restriction list and the emergency/service-number rule apply to it.
 */
function didOwner(did: string): { number: string; outboundClass: ExtensionConfig['outboundClass'] } {
  // National form, so a DID +81312345678 cannot be bulk-forwarded to itself as 0312345678.
  return { number: canonicalDid(did).replace(/^\+/, ''), outboundClass: 'international' };
}
