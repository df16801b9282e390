// The dial plan (F-DIALPLAN): what a dialled string reaches, in the SPEC's order — codes dialled from an
// idle phone (service tier), then the per-call presentation prefixes (F-CLIR 184/186), then this PBX's own
// numbers (local tier), then the outbound routes, else nothing (404). Features register their entries;
// the dial plan only keeps the order.
import type { HibikiConfig } from '../config/schema.js';
import type { DialPlanEntry, Destination, Origin } from './application.js';
import { normaliseDialled } from '../rules/numbers.js';

export type Presentation = 'present' | 'withhold' | 'default';

export interface DialPlanResult {
  /** The dialled string without visual separators. */
  dialled: string;
  /** The number after per-call prefixes were taken off. */
  number: string;
  presentation: Presentation;
  destination: Destination | undefined;
}

type Tier = DialPlanEntry['tier'];

export class DialPlan {
  private readonly tiers: Record<Tier, DialPlanEntry[]> = { service: [], local: [], outbound: [], inbound: [] };

  constructor(
    /** The local number a DID from a trunk rings (the inbound rules); undefined when no rule matches. */
    private readonly didNumber: (did: string, trunk: string) => string | undefined,
  ) {}

  add(entry: DialPlanEntry): void {
    this.tiers[entry.tier].push(entry);
  }

  /** What a local device reaches by dialling `dialledRaw`. */
  resolve(dialledRaw: string, origin: Origin, config: HibikiConfig): DialPlanResult {
    const dialled = normaliseDialled(dialledRaw);
    if (origin.kind === 'device') {
      const service = this.first('service', dialled, origin, config);
      if (service) return { dialled, number: dialled, presentation: 'default', destination: service };
    }
    const { number, presentation } = this.presentation(dialled, origin, config);
    return { dialled, number, presentation, destination: this.reach(number, origin, config) };
  }

  /** What a number reaches as a destination (forwarding, transfer targets, DIDs): local numbers, then routes. */
  reach(number: string, origin: Origin, config: HibikiConfig): Destination | undefined {
    return this.first('local', number, origin, config) ?? this.first('outbound', number, origin, config);
  }

  /** What a DID from a trunk reaches: a feature's claim on it (bulk forwarding), else its inbound rule's local number. */
  inbound(didRaw: string, origin: Origin, config: HibikiConfig): Destination | undefined {
    const claimed = this.first('inbound', didRaw, origin, config);
    if (claimed) return claimed;
    const number = this.didNumber(didRaw, origin.kind === 'trunk' ? origin.trunk : '');
    return number === undefined ? undefined : this.local(number, origin, config);
  }

  /** One of this PBX's own numbers (a DID's destination): never an outbound route. */
  local(number: string, origin: Origin, config: HibikiConfig): Destination | undefined {
    return this.first('local', number, origin, config);
  }

  /** 184/186 + number: withhold or present the caller for this call. The prefix is only one when digits follow it. */
  private presentation(dialled: string, origin: Origin, config: HibikiConfig): { number: string; presentation: Presentation } {
    const { withhold, present } = config.serviceCodes;
    const isLocal = (n: string) => this.first('local', n, origin, config) !== undefined;
    if (dialled.length > withhold.length && dialled.startsWith(withhold) && !isLocal(dialled)) {
      return { number: dialled.slice(withhold.length), presentation: 'withhold' };
    }
    if (dialled.length > present.length && dialled.startsWith(present) && !isLocal(dialled)) {
      return { number: dialled.slice(present.length), presentation: 'present' };
    }
    return { number: dialled, presentation: 'default' };
  }

  private first(tier: Tier, dialled: string, origin: Origin, config: HibikiConfig): Destination | undefined {
    for (const entry of this.tiers[tier]) {
      const d = entry.resolve(dialled, origin, config);
      if (d) return d;
    }
    return undefined;
  }
}
