// Ringing a destination: an INVITE to every contact in parallel, the first 2xx wins and the others are
// cancelled, a ring timeout, and the best failure when every fork fails (RFC 3261 §16.7 step 6).
// Used for the callee of a new call and for the targets of transfers and recalls.
import type { Logger } from 'pino';
import type { SipResponse } from '../sip/message.js';
import type { SipStack } from '../sip/stack.js';
import type { Dialog } from '../sip/dialog.js';
import { UacError } from '../sip/dialog-layer.js';
import type { SendTarget } from '../sip/transport/types.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { parseReasonHeader, sipToQ850 } from './q850.js';
import type { Disposition } from './call.js';

export interface RingTarget {
  uri: string;
  target: SendTarget;
  label: string;
  /** The device registered with +sip.ice (a browser phone): it is offered WebRTC. */
  webrtc?: boolean;
}

export interface RingRequest {
  contacts: RingTarget[];
  offer: string;
  /**
   * The offer for a contact that takes WebRTC (`webrtc`: registered with +sip.ice, a browser phone), made on
   * first use; without it those contacts get `offer` like every phone.
   */
  webrtcOffer?: () => Promise<string>;
  from: string;
  to: string;
  headers: [string, string][];
  auth?: { username: string; password: string };
  ringTimeoutSec: number;
  /** Failures are reported as 480 instead of 408 when ringing local phones. */
  local: boolean;
  onProvisional?: (r: SipResponse) => void;
  /**
   * F-FWD CFUR: when no fork has sent any response (not even 100 Trying) within this many seconds, the
   * destination counts as unreachable and ringing stops.
   */
  noResponseTimeoutSec?: number;
  log: Logger;
}

export type RingOutcome =
  | { kind: 'answered'; dialog: Dialog; label: string }
  | { kind: 'failed'; response: SipResponse; status: number; cause: number; disposition: Disposition }
  | { kind: 'timeout' }
  | { kind: 'unresponsive' }
  | { kind: 'cancelled' };

interface Fork {
  label: string;
  cancel?: () => void;
  settled: boolean;
}

export class Ringer {
  readonly outcome: Promise<RingOutcome>;
  private resolveOutcome!: (o: RingOutcome) => void;
  private forks: Fork[] = [];
  private failures: SipResponse[] = [];
  private settled = false;
  private timer: TimerHandle;
  private noResponseTimer: TimerHandle | undefined;
  private responded = false;

  constructor(
    private readonly stack: SipStack,
    clock: Clock,
    private readonly req: RingRequest,
  ) {
    this.outcome = new Promise<RingOutcome>((resolve) => (this.resolveOutcome = resolve));
    this.timer = clock.setTimer(req.ringTimeoutSec * 1000, () => {
      req.log.info({ ringTimeout: req.ringTimeoutSec }, 'no answer');
      this.settle({ kind: 'timeout' });
    });
    if (req.noResponseTimeoutSec !== undefined) {
      this.noResponseTimer = clock.setTimer(req.noResponseTimeoutSec * 1000, () => {
        if (this.responded) return;
        req.log.info({ noResponseTimeout: req.noResponseTimeoutSec }, 'no response from any device');
        this.settle({ kind: 'unresponsive' });
      });
    }
    if (req.contacts.length === 0) {
      this.settle({ kind: 'failed', response: stack.syntheticResponse(stack.buildRequest({ method: 'INVITE', uri: 'sip:invalid@invalid' }), 480), status: 480, cause: 20, disposition: 'failed' });
      return;
    }
    for (const contact of req.contacts) this.fork(contact);
  }

  /** Give up ringing (the caller hung up, or the PBX decided otherwise). */
  cancel(): void {
    this.settle({ kind: 'cancelled' });
  }

  private settle(o: RingOutcome, winner?: Fork): void {
    if (this.settled) return;
    this.settled = true;
    this.timer.cancel();
    this.noResponseTimer?.cancel();
    for (const f of this.forks) if (f !== winner && !f.settled) f.cancel?.();
    this.resolveOutcome(o);
  }

  private webrtcOffer: Promise<string> | undefined;

  private fork(contact: RingTarget): void {
    const fork: Fork = { label: contact.label, settled: false };
    this.forks.push(fork);
    const { webrtcOffer } = this.req;
    if (webrtcOffer === undefined || contact.webrtc !== true) {
      this.invite(contact, fork, this.req.offer);
      return;
    }
    // A browser is offered WebRTC: made once, on first use, for every browser fork.
    this.webrtcOffer ??= webrtcOffer();
    this.webrtcOffer.then(
      (sdp) => {
        if (!this.settled) this.invite(contact, fork, sdp);
      },
      (err: unknown) => this.forkFailed(fork, err),
    );
  }

  private invite(contact: RingTarget, fork: Fork, localSdp: string): void {
    const { req } = this;
    this.stack
      .createUAC({
        uri: contact.uri,
        target: contact.target,
        localSdp,
        from: req.from,
        to: req.to,
        headers: req.headers,
        auth: req.auth,
        onProvisional: (r) => {
          this.responded = true;
          if (!this.settled && r.status > 100) req.onProvisional?.(r);
        },
        onRequestSent: (h) => {
          fork.cancel = h.cancel;
          if (this.settled) h.cancel();
        },
      })
      .then(
        (dialog) => {
          fork.settled = true;
          this.responded = true;
          if (this.settled) {
            // Answered after another fork won, or after we gave up: release it.
            void dialog.destroy({ headers: { reason: 'SIP;cause=200;text="Call completed elsewhere"' } });
            return;
          }
          this.settle({ kind: 'answered', dialog, label: fork.label }, fork);
        },
        (err: unknown) => this.forkFailed(fork, err),
      );
  }

  private forkFailed(fork: Fork, err: unknown): void {
    fork.settled = true;
    this.responded = true;
    if (err instanceof UacError) this.failed(err.response);
    else {
      this.req.log.warn({ err: (err as Error).message, fork: fork.label }, 'fork failed');
      // Not contact.uri: it may be the very thing that made createUAC fail (an unparsable URI).
      this.failed(this.stack.syntheticResponse(this.stack.buildRequest({ method: 'INVITE', uri: 'sip:invalid@invalid' }), 503));
    }
  }

  private failed(r: SipResponse): void {
    this.failures.push(r);
    if (this.settled || this.forks.some((f) => !f.settled)) return;
    const best = bestFailure(this.failures);
    const reasonIn = parseReasonHeader(best.getAll('reason'));
    const cause = reasonIn?.protocol === 'Q.850' ? reasonIn.cause : causeForStatus(best.status);
    const status = best.status === 408 && this.req.local ? 480 : best.status >= 400 ? best.status : 500;
    const disposition: Disposition = cause === 17 ? 'busy' : cause === 19 || cause === 18 ? 'no_answer' : 'failed';
    this.settle({ kind: 'failed', response: best, status, cause, disposition });
  }
}

/** RFC 3261 §16.7 step 6 applied to our forks: 6xx first, then busy, then the lowest class. */
function bestFailure(failures: SipResponse[]): SipResponse {
  const six = failures.find((r) => r.status >= 600);
  if (six) return six;
  const busy = failures.find((r) => r.status === 486);
  if (busy) return busy;
  return [...failures].sort((a, b) => rank(a.status) - rank(b.status))[0] as SipResponse;
}

function rank(status: number): number {
  // Prefer informative 4xx over 408/5xx so the caller learns why.
  if (status === 408 || status === 503) return 900 + status;
  return status;
}

function causeForStatus(status: number): number {
  if (status === 408) return 18;
  if (status === 487) return 16;
  return sipToQ850(status);
}
