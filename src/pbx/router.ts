// Dial-plan resolution (F-DIALPLAN): what a dialled string reaches, in the SPEC's order:
// per-call prefixes (F-CLIR 184/186) → extensions and groups → outbound routes (longest prefix) → not found.
// Service codes and park slots are claimed earlier by the features that own them (CallManager.onDial).
import type { HibikiConfig } from '../config/schema.js';

export type ExtensionConfig = HibikiConfig['extensions'][number];
export type TrunkConfig = HibikiConfig['trunks'][number];
export type RouteConfig = HibikiConfig['routes'][number];
export type GroupConfig = HibikiConfig['groups'][number];
export type InboundRule = HibikiConfig['inbound'][number];

export type Presentation = 'present' | 'withhold' | 'default';

export type RouteTarget =
  | { kind: 'extension'; extension: ExtensionConfig }
  | { kind: 'group'; group: GroupConfig }
  | { kind: 'trunk'; trunk: TrunkConfig; route: RouteConfig; number: string }
  | { kind: 'not-found' };

export interface Resolution {
  dialled: string;
  /** The number after per-call prefixes were taken off. */
  number: string;
  presentation: Presentation;
  target: RouteTarget;
}

/** Visual separators a phone may send inside a dialled number (RFC 3966 visual-separator). */
export function normaliseDialled(raw: string): string {
  return raw.replace(/[-.() ]/g, '');
}

/**
 * The forms in which a DID (or a caller number) is compared with configured numbers: as received, without
 * visual separators and without the parameters some carriers put in the user part
 * (`+81312345678;cpc=ordinary`, RFC 4694 style); then, for a Japanese E.164 number (+81…), its national
 * form (0…). Carriers send either form, and rules, bulk members and block lists are usually written
 * nationally. The last form is the canonical one (national when there is one): see canonicalDid.
 */
export function didForms(did: string): string[] {
  const semi = did.indexOf(';');
  const n = normaliseDialled(semi < 0 ? did : did.slice(0, semi));
  return n.startsWith('+81') && n.length > 3 ? [n, `0${n.slice(3)}`] : [n];
}

/** One key per number for lookups and counters: the national form when it has one (`+81312345678` → `0312345678`). */
export function canonicalDid(did: string): string {
  const forms = didForms(did);
  return forms[forms.length - 1]!;
}

/**
 * The inbound rule a DID from a trunk matches: an exact entry (in any of the DID's forms, as received
 * first) wins over `*`, a trunk-specific rule over a general one; a rule for another trunk never matches,
 * and without a trunk only general rules do. Used by the router and by screening alike.
 */
export function findInboundRule(rules: readonly InboundRule[], didRaw: string, trunk: string | undefined): InboundRule | undefined {
  for (const form of didForms(didRaw)) {
    const exact = matchInbound(rules, form, trunk, false);
    if (exact) return exact;
  }
  return matchInbound(rules, '*', trunk, true);
}

function matchInbound(rules: readonly InboundRule[], did: string, trunk: string | undefined, wildcard: boolean): InboundRule | undefined {
  let best: InboundRule | undefined;
  for (const r of rules) {
    if (r.trunk !== undefined && r.trunk !== trunk) continue;
    if (wildcard ? r.did !== '*' : r.did !== did) continue;
    // A trunk-specific rule wins over a general one; among equals, the first in the file.
    if (!best || (r.trunk !== undefined && best.trunk === undefined)) best = r;
  }
  return best;
}

export class Router {
  private extensions = new Map<string, ExtensionConfig>();
  private groups = new Map<string, GroupConfig>();
  private withholdPrefix = '184';
  private presentPrefix = '186';
  private trunks = new Map<string, TrunkConfig>();
  private routes: RouteConfig[] = [];
  private inbound: HibikiConfig['inbound'] = [];

  constructor(config: HibikiConfig) {
    this.load(config);
  }

  load(config: HibikiConfig): void {
    this.extensions = new Map(config.extensions.map((e) => [e.number, e]));
    this.groups = new Map(config.groups.map((g) => [g.number, g]));
    this.withholdPrefix = config.serviceCodes.withhold;
    this.presentPrefix = config.serviceCodes.present;
    this.trunks = new Map(config.trunks.map((t) => [t.name, t]));
    // Longest prefix first, so "0120" wins over "0".
    this.routes = [...config.routes].sort((a, b) => b.prefix.length - a.prefix.length);
    this.inbound = config.inbound;
  }

  /** The inbound rule a DID from a trunk matches (findInboundRule over the configured rules). */
  inboundRule(didRaw: string, trunk: string): InboundRule | undefined {
    return findInboundRule(this.inbound, didRaw, trunk);
  }

  /** The extension or group a DID rings; a DID that is itself a local number reaches it directly (another PBX dialling our extensions). */
  resolveInbound(didRaw: string, trunk: string): RouteTarget {
    const rule = this.inboundRule(didRaw, trunk);
    return this.local(rule ? rule.destination : normaliseDialled(didRaw)) ?? { kind: 'not-found' };
  }

  /** Resolve a number dialled by a local device. */
  resolve(dialledRaw: string): Resolution {
    const dialled = normaliseDialled(dialledRaw);
    let number = dialled;
    let presentation: Presentation = 'default';
    // The prefix is only a prefix when digits follow it; "184" alone is a number like any other.
    const w = this.withholdPrefix;
    const p = this.presentPrefix;
    if (number.length > w.length && number.startsWith(w) && !this.isLocal(number)) {
      presentation = 'withhold';
      number = number.slice(w.length);
    } else if (number.length > p.length && number.startsWith(p) && !this.isLocal(number)) {
      presentation = 'present';
      number = number.slice(p.length);
    }
    return { dialled, number, presentation, target: this.target(number) };
  }

  /** An extension or group with this number. */
  local(number: string): RouteTarget | undefined {
    const ext = this.extensions.get(number);
    if (ext) return { kind: 'extension', extension: ext };
    const group = this.groups.get(number);
    if (group) return { kind: 'group', group };
    return undefined;
  }

  isLocal(number: string): boolean {
    return this.extensions.has(number) || this.groups.has(number);
  }

  private target(number: string): RouteTarget {
    const local = this.local(number);
    if (local) return local;
    for (const route of this.routes) {
      if (!number.startsWith(route.prefix)) continue;
      if (number.length < route.minLength || number.length > route.maxLength) continue;
      const trunk = this.trunks.get(route.trunk);
      if (!trunk) continue;
      const sent = route.prepend + number.slice(route.strip);
      return { kind: 'trunk', trunk, route, number: sent };
    }
    return { kind: 'not-found' };
  }

  extension(number: string): ExtensionConfig | undefined {
    return this.extensions.get(number);
  }

  group(number: string): GroupConfig | undefined {
    return this.groups.get(number);
  }
}
