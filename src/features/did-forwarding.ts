// F-FWD bulk (disaster) forwarding of a DID: while a bulk set with the DID is on, calls to it go to the
// set's destination for it, before the DID's inbound rule is looked at.
import { normaliseDialled } from '../rules/numbers.js';
import type { CallApi, CallApplication, Feature, FeatureRegistry } from '../pbx/application.js';
import type { Leg } from '../pbx/leg.js';

interface BulkForward {
  did: string;
  destination: string;
}

export class DidBulkForwarding implements Feature, CallApplication<BulkForward> {
  readonly name = 'DID bulk forwarding';

  constructor(private readonly forwarding: { didBulkDestination(did: string): string | undefined }) {}

  register(r: FeatureRegistry): void {
    r.destination({
      name: 'DID bulk forwarding',
      tier: 'inbound',
      resolve: (dialled) => {
        const did = normaliseDialled(dialled);
        const destination = this.forwarding.didBulkDestination(did);
        // The DID's own block list still applies; the destination's does not (screening 'none').
        return destination === undefined ? undefined : { app: this, args: { did, destination }, callee: { number: did }, screening: 'none' };
      },
    });
  }

  run(session: CallApi, leg: Leg, bulk: BulkForward): Promise<void> {
    return session.connect(leg, (d) => d.toNumber(bulk.destination, { from: bulk.did, feature: 'forward_bulk' }));
  }
}
