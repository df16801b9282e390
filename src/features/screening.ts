// F-SCREEN incoming screening: anonymous-call rejection and block lists (per extension, per DID rule and
// for the whole tenant), with counters of rejected calls per month. Call set-up asks before a call comes
// straight to an extension or DID, and plays the announcement this module names.
import type { Logger } from 'pino';
import type { HibikiConfig } from '../config/schema.js';
import type { ScreeningStore } from '../store/screening-store.js';
import { matchesAny } from '../rules/number-rules.js';
import type { PromptCatalogue } from '../media/prompts.js';
import type { Feature, FeatureRegistry, ScreenVerdict as CallScreenVerdict } from '../pbx/application.js';
import { promptLanguage } from '../pbx/extension-audio.js';
import { canonicalDid, didForms, findInboundRule } from '../rules/numbers.js';

export type ScreenVerdict = { ok: true } | { ok: false; kind: 'blocked' | 'anonymous'; status: 403 | 433; cause: 21; reason: string };

export interface ScreeningDeps {
  store: ScreeningStore;
  config: () => HibikiConfig;
  /** Epoch ms; the month of a rejection is taken from it in tenant.timezone. */
  now: () => number;
  logger: Logger;
}

export interface ScreenTarget {
  /** The extension the call would ring. */
  extension?: string;
  /** The DID an inbound call arrived on. */
  did?: string;
  /** The trunk it arrived from (selects trunk-specific inbound rules). */
  trunk?: string;
}

export interface ScreenCaller {
  /** The caller's number as received (or the extension number for internal calls). */
  number: string;
  /** The caller withheld their number (184, Privacy: id, From anonymous…). */
  anonymous: boolean;
}

/**
 * The forms of a caller number compared with block lists: as received (separators removed) and, for a
 * Japanese E.164 number, its national form, so `090*` also blocks `+8190…` from a carrier that sends E.164.
 * The same forms a DID is matched in (didForms).
 */
export function callerNumberForms(number: string): string[] {
  return didForms(number);
}

const monthFormats = new Map<string, Intl.DateTimeFormat>();

/** `YYYY-MM` of an instant in a time zone. */
export function monthIn(timeZone: string, epochMs: number): string {
  let fmt = monthFormats.get(timeZone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit' });
    monthFormats.set(timeZone, fmt);
  }
  const parts = fmt.formatToParts(new Date(epochMs));
  const year = parts.find((p) => p.type === 'year')?.value ?? '0000';
  const month = parts.find((p) => p.type === 'month')?.value ?? '01';
  return `${year.padStart(4, '0')}-${month}`;
}

/** The month before a `YYYY-MM`. */
export function previousMonth(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return m === 1 ? `${String(y - 1).padStart(4, '0')}-12` : `${String(y).padStart(4, '0')}-${String(m - 1).padStart(2, '0')}`;
}

export class Screening {
  constructor(private readonly deps: ScreeningDeps) {}

  /**
   * Screen an incoming call to an extension (internal or inbound) or to a DID (inbound rule). The anonymous
   * check comes first (433), then the extension's, the DID rule's and the tenant's block lists (403). The
   * block lists apply to a withheld number too: 184 must not be a way round a block. A rejection is counted
   * for each target named (the extension and the DID of an inbound call both saw it).
   */
  check(target: ScreenTarget, caller: ScreenCaller): ScreenVerdict {
    const config = this.deps.config();
    const ext = target.extension !== undefined ? config.extensions.find((e) => e.number === target.extension) : undefined;
    // The router's matcher: a DID arriving as +81… finds the rule written 0… (and the same rule as routing).
    const rule = target.did !== undefined ? findInboundRule(config.inbound, target.did, target.trunk) : undefined;
    const where = (on: 'ext' | 'did' | 'tenant') => (on === 'ext' ? `extension ${target.extension}` : on === 'did' ? `DID ${target.did}` : 'the tenant');

    if (caller.anonymous) {
      const by = ext?.rejectAnonymous ? 'ext' : rule?.rejectAnonymous ? 'did' : undefined;
      if (by) return this.reject(target, caller, { ok: false, kind: 'anonymous', status: 433, cause: 21, reason: `anonymous caller rejected by ${where(by)}` });
    }

    const forms = callerNumberForms(caller.number);
    const lists: Array<['ext' | 'did' | 'tenant', readonly string[] | undefined]> = [
      ['ext', ext?.blockList],
      ['did', rule?.blockList],
      ['tenant', config.screening.blockList],
    ];
    for (const [on, list] of lists) {
      if (list && list.length > 0 && forms.some((n) => matchesAny(n, list))) {
        return this.reject(target, caller, { ok: false, kind: 'blocked', status: 403, cause: 21, reason: `caller ${caller.number} is on the block list of ${where(on)}` });
      }
    }
    return { ok: true };
  }

  /** Rejected calls this month and last month, in the tenant time zone. Give exactly one of extension or did. */
  counters(target: { extension?: string; did?: string }): { thisMonth: number; lastMonth: number } {
    const keys = counterKeys(target);
    if (keys.length !== 1) throw new RangeError('counters: give exactly one of extension or did');
    const key = keys[0]!;
    const month = monthIn(this.deps.config().tenant.timezone, this.deps.now());
    return { thisMonth: this.deps.store.get(key, month), lastMonth: this.deps.store.get(key, previousMonth(month)) };
  }

  private reject(target: ScreenTarget, caller: ScreenCaller, verdict: Extract<ScreenVerdict, { ok: false }>): ScreenVerdict {
    const month = monthIn(this.deps.config().tenant.timezone, this.deps.now());
    const keys = counterKeys(target);
    try {
      for (const key of keys) this.deps.store.increment(key, month);
    } catch (err) {
      // A counter that cannot be written must not let a blocked caller through.
      this.deps.logger.error({ err, targets: keys }, 'screening counter not stored');
    }
    this.deps.logger.info(
      { event: 'screening', kind: verdict.kind, target: keys.join(','), caller: caller.number, anonymous: caller.anonymous, reason: verdict.reason },
      `incoming call rejected (${verdict.kind})`,
    );
    return verdict;
  }
}

/**
 * Store keys of a target: `ext:<number>`, `did:<did>` — the DID in its canonical form (separators removed,
 * national when it has one), so +81312345678 and 0312345678 count as one DID.
 */
function counterKeys(target: { extension?: string; did?: string }): string[] {
  const keys: string[] = [];
  if (target.extension !== undefined) keys.push(`ext:${target.extension}`);
  if (target.did !== undefined) keys.push(`did:${canonicalDid(target.did)}`);
  return keys;
}

/** Screening as the call core asks for it: the verdict with the CDR feature and, for anonymous callers, the announcement. */
export class ScreeningFeature implements Feature {
  constructor(
    private readonly screening: Screening,
    private readonly prompts: PromptCatalogue,
    private readonly config: () => HibikiConfig,
  ) {}

  register(r: FeatureRegistry): void {
    r.screen((target, caller): CallScreenVerdict => {
      const v = this.screening.check(target, caller);
      if (v.ok) return v;
      if (v.kind === 'blocked') return { ok: false, feature: 'blocked', status: v.status, cause: v.cause, reason: v.reason };
      const prompt = [this.prompts.file('anonymous-rejected', promptLanguage(this.config(), target.extension))];
      return { ok: false, feature: 'anonymous_rejected', status: v.status, cause: v.cause, reason: v.reason, prompt };
    });
  }
}
