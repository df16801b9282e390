// Dial-plan resolution (F-DIALPLAN): what a dialled string reaches, in the SPEC's order:
// per-call prefixes (F-CLIR 184/186) → extensions and groups → outbound routes (longest prefix) → not found.
// Service codes and park slots are claimed earlier by the features that own them (CallManager.onDial).
import type { HibikiConfig } from '../config/schema.js';
import { findInboundRule, normaliseDialled } from '../rules/numbers.js';

export type ExtensionConfig = HibikiConfig['extensions'][number];
export type TrunkConfig = HibikiConfig['trunks'][number];
export type RouteConfig = HibikiConfig['routes'][number];
export type GroupConfig = HibikiConfig['groups'][number];
export type InboundRule = HibikiConfig['inbound'][number];

export type Presentation = 'present' | 'withhold' | 'default';

export type RouteTarget =
  { kind: 'extension'; extension: ExtensionConfig } | { kind: 'group'; group: GroupConfig } | { kind: 'trunk'; trunk: TrunkConfig; route: RouteConfig; number: string } | { kind: 'not-found' };

export interface Resolution {
  dialled: string;
  /** The number after per-call prefixes were taken off. */
  number: string;
  presentation: Presentation;
  target: RouteTarget;
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

  /** The local number a DID rings: its inbound rule's destination, or the DID itself (another PBX dialling our extensions). */
  didDestination(didRaw: string, trunk: string): string {
    const rule = this.inboundRule(didRaw, trunk);
    return rule ? rule.destination : normaliseDialled(didRaw);
  }

  /** The outbound route (longest prefix first) a number leaves by, with the number as sent to the trunk. */
  route(number: string): { trunk: TrunkConfig; route: RouteConfig; number: string } | undefined {
    for (const route of this.routes) {
      if (!number.startsWith(route.prefix)) continue;
      if (number.length < route.minLength || number.length > route.maxLength) continue;
      const trunk = this.trunks.get(route.trunk);
      if (!trunk) continue;
      return { trunk, route, number: route.prepend + number.slice(route.strip) };
    }
    return undefined;
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
    const out = this.route(number);
    return out ? { kind: 'trunk', ...out } : { kind: 'not-found' };
  }

  extension(number: string): ExtensionConfig | undefined {
    return this.extensions.get(number);
  }

  group(number: string): GroupConfig | undefined {
    return this.groups.get(number);
  }
}
