// Counts of the SIP messages the stack received and sent, by method and status (issue #12, /metrics). Plain
// numbers in a Map, bumped on the hot path at the cost of one string key; the metrics read them on a scrape.
import { SipRequest, type SipResponse } from './message.js';

export interface SipCount {
  direction: 'in' | 'out';
  /** The request's method; for a response the method of its CSeq ('' when a retransmission kept no headers). */
  method: string;
  /** The response's status; '' for a request. */
  status: string;
  count: number;
}

export class SipCounters {
  private readonly counts = new Map<string, number>();

  received(msg: SipRequest | SipResponse): void {
    this.bump(msg, 'in');
  }

  sent(msg: SipRequest | SipResponse): void {
    this.bump(msg, 'out');
  }

  all(): SipCount[] {
    const out: SipCount[] = [];
    for (const [key, count] of this.counts) {
      const [direction, method, status] = key.split(' ') as ['in' | 'out', string, string];
      out.push({ direction, method, status, count });
    }
    return out;
  }

  private bump(msg: SipRequest | SipResponse, direction: 'in' | 'out'): void {
    const key = msg instanceof SipRequest ? `${direction} ${msg.method} ` : `${direction} ${msg.cseq?.method ?? ''} ${msg.status}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
}
