// Dial-plan resolution (F-DIALPLAN): what a dialled string reaches, in the SPEC's order:
// per-call prefixes (F-CLIR 184/186) → extensions → outbound routes (longest prefix) → not found.
// Later issues insert feature-code sessions, service codes, groups, queues, IVRs and park slots in front.
import type { HibikiConfig } from '../config/schema.js';

export type ExtensionConfig = HibikiConfig['extensions'][number];
export type TrunkConfig = HibikiConfig['trunks'][number];
export type RouteConfig = HibikiConfig['routes'][number];

export type Presentation = 'present' | 'withhold' | 'default';

export type RouteTarget =
  | { kind: 'extension'; extension: ExtensionConfig }
  | { kind: 'trunk'; trunk: TrunkConfig; route: RouteConfig; number: string }
  | { kind: 'not-found' };

export interface Resolution {
  dialled: string;
  /** The number after per-call prefixes were taken off. */
  number: string;
  presentation: Presentation;
  target: RouteTarget;
}

/** F-CLIR per-call prefixes. */
const WITHHOLD_PREFIX = '184';
const PRESENT_PREFIX = '186';

/** Visual separators a phone may send inside a dialled number (RFC 3966 visual-separator). */
export function normaliseDialled(raw: string): string {
  return raw.replace(/[-.() ]/g, '');
}

export class Router {
  private extensions = new Map<string, ExtensionConfig>();
  private trunks = new Map<string, TrunkConfig>();
  private routes: RouteConfig[] = [];
  private inbound: HibikiConfig['inbound'] = [];

  constructor(config: HibikiConfig) {
    this.load(config);
  }

  load(config: HibikiConfig): void {
    this.extensions = new Map(config.extensions.map((e) => [e.number, e]));
    this.trunks = new Map(config.trunks.map((t) => [t.name, t]));
    // Longest prefix first, so "0120" wins over "0".
    this.routes = [...config.routes].sort((a, b) => b.prefix.length - a.prefix.length);
    this.inbound = config.inbound;
  }

  /** The extension a DID dialled from a trunk rings: an exact entry wins over `*`, a trunk-specific one over a general one. */
  resolveInbound(didRaw: string, trunk: string): ExtensionConfig | undefined {
    const did = normaliseDialled(didRaw);
    const candidates = this.inbound.filter((r) => r.trunk === undefined || r.trunk === trunk);
    const rank = (r: HibikiConfig['inbound'][number]) => (r.did === did ? 2 : r.did === '*' ? 0 : -1) + (r.trunk ? 1 : 0);
    let best: HibikiConfig['inbound'][number] | undefined;
    for (const r of candidates) {
      if (r.did !== did && r.did !== '*') continue;
      if (!best || rank(r) > rank(best)) best = r;
    }
    // A DID that is itself an extension number reaches it directly (another PBX dialling our extensions).
    if (!best) return this.extensions.get(did);
    return this.extensions.get(best.destination);
  }

  /** Resolve a number dialled by a local device. */
  resolve(dialledRaw: string): Resolution {
    const dialled = normaliseDialled(dialledRaw);
    let number = dialled;
    let presentation: Presentation = 'default';
    // The prefix is only a prefix when digits follow it; "184" alone is a number like any other.
    if (number.length > 3 && number.startsWith(WITHHOLD_PREFIX) && !this.extensions.has(number)) {
      presentation = 'withhold';
      number = number.slice(3);
    } else if (number.length > 3 && number.startsWith(PRESENT_PREFIX) && !this.extensions.has(number)) {
      presentation = 'present';
      number = number.slice(3);
    }
    return { dialled, number, presentation, target: this.target(number) };
  }

  private target(number: string): RouteTarget {
    const ext = this.extensions.get(number);
    if (ext) return { kind: 'extension', extension: ext };
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
}
