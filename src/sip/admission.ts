// Which new requests get a server transaction (issue #14): a bound on the transactions in memory, and
// overload shedding. A refused request is answered statelessly, so refusing costs no memory either.
//
// - ACKs are never refused (they make no transaction and finish work already done).
// - New out-of-dialog requests above maxServerTransactions: 503 with Retry-After.
// - In-dialog requests and CANCELs are admitted above the bound as long as they belong to something
//   that exists (a dialog, an INVITE transaction): they end or steer calls already admitted (BYE frees
//   a call and its media, a refresh keeps it up), and refusing them would strand those calls. Their
//   number is bounded by the calls in progress. Above the bound, one that matches nothing gets 481
//   statelessly, so forged in-dialog requests cannot grow the table either.
// - Overload: new out-of-dialog INVITEs and REGISTERs only, by the share OverloadControl sets, and of
//   those only first attempts: one answering a challenge completes work already half done.
import type { Logger } from 'pino';
import type { SipRequest } from './message.js';
import type { Refusal } from './transaction/layer.js';
import type { OverloadControl } from './overload.js';

/** Share of the bound the table must fall under before new requests are admitted again. */
const RESUME_AT = 0.9;

export interface AdmissionCounts {
  /** 503: the server-transaction bound was reached. */
  capacity: number;
  /** 481: an in-dialog request or CANCEL matching nothing, above the bound. */
  unmatched: number;
  /** 503: shed for overload. */
  overload: number;
}

export interface AdmissionOptions {
  /** Server transactions allowed in memory; 0 means no bound. */
  maxServerTransactions: number;
  /** Retry-After (s) of a 503 sent because the bound was reached (spread, like the overload one). */
  retryAfter: () => number;
  serverTransactions: () => number;
  /** Whether an in-dialog request belongs to a dialog (or early dialog) that exists. */
  knowsDialog: (req: SipRequest) => boolean;
  overload: () => OverloadControl | undefined;
  logger: Logger;
}

export class RequestAdmission {
  readonly refused: AdmissionCounts = { capacity: 0, unmatched: 0, overload: 0 };
  private full = false;

  constructor(private opts: AdmissionOptions) {}

  update(maxServerTransactions: number): void {
    this.opts = { ...this.opts, maxServerTransactions };
  }

  /** For the transaction layer: undefined admits the request. */
  readonly decide = (req: SipRequest, cancelsInvite: boolean): Refusal | undefined => {
    const inDialog = req.toTag !== undefined || req.method === 'CANCEL';
    if (this.atCapacity()) {
      if (!inDialog) {
        this.refused.capacity++;
        return unavailable(this.opts.retryAfter());
      }
      if (!(req.method === 'CANCEL' ? cancelsInvite : this.opts.knowsDialog(req))) {
        this.refused.unmatched++;
        return { status: 481 };
      }
      return undefined;
    }
    if (!inDialog && (req.method === 'INVITE' || req.method === 'REGISTER')) {
      const overload = this.opts.overload();
      // The credentials are looked for only while shedding: not on every new request.
      if (overload?.shouldShed() && !answersChallenge(req)) {
        this.refused.overload++;
        return unavailable(overload.retryAfter());
      }
    }
    return undefined;
  };

  /**
   * The bound. Once reached, requests are refused until the table is back under 90 % of it: without
   * that margin every transaction that ends would let one request in and the state (and its log
   * line) would flip with each request.
   */
  private atCapacity(): boolean {
    const max = this.opts.maxServerTransactions;
    const size = this.opts.serverTransactions();
    const full = max > 0 && size >= (this.full ? max * RESUME_AT : max);
    if (full !== this.full) {
      this.full = full;
      if (full) this.opts.logger.warn({ event: 'overload', serverTransactions: size, max }, 'server transaction limit reached: refusing new requests with 503');
      else this.opts.logger.warn({ event: 'overload', serverTransactions: size, max }, 'server transactions below the limit again');
    }
    return full;
  }
}

/**
 * A request with credentials answers a challenge (401/407) this server already spent work on: refusing
 * it would waste that half of the exchange and admit fewer calls and registrations for the same load, so
 * the refused share is taken from first attempts only. Forged credentials gain a flood nothing: they cost
 * one digest check and a 401, the per-source rate limit bounds them, and once the process is saturated
 * they are dropped unparsed like every other new INVITE or REGISTER.
 */
function answersChallenge(req: SipRequest): boolean {
  return req.has('authorization') || req.has('proxy-authorization');
}

function unavailable(retryAfter: number): Refusal {
  return { status: 503, headers: [['retry-after', String(retryAfter)]] };
}
