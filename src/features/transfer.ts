// F-XFER-BLIND: blind (direct) transfer by the in-call code (#8 + target + confirm) or by a phone's
// transfer key (REFER without Replaces, RFC 3515). The other party hears music on hold while the
// transferor dials and while the target rings; the transferor's leg ends at once. If the target is
// busy, unreachable or does not answer within calls.transferRingTimeout, the call rings the
// transferor back (recall) instead of being lost.
import type { Logger } from 'pino';
import type { HibikiConfig } from '../config/schema.js';
import type { MediaEngine, PlayHandle } from '../media/engine.js';
import type { PromptCatalogue } from '../media/prompts.js';
import type { Clock } from '../sip/clock.js';
import type { SipRequest } from '../sip/message.js';
import type { ServerResponse } from '../sip/stack.js';
import { parseNameAddr } from '../sip/address.js';
import { isSipUri, isTelUri } from '../sip/uri.js';
import type { Call, Leg } from '../pbx/call.js';
import type { CallManager } from '../pbx/b2bua.js';
import type { InCallCodes } from './in-call-codes.js';
import { endCallOnFailure } from '../pbx/failures.js';
import { enterTarget } from './target-entry.js';
import { mohFiles } from './extension-audio.js';

export interface TransferDeps {
  calls: CallManager;
  codes: InCallCodes;
  media: MediaEngine;
  prompts: PromptCatalogue;
  clock: Clock;
  config: () => HibikiConfig;
  logger: Logger;
  /** A transfer to the park lot number parks the call (F-PARK). */
  park?: { isLot(number: string): boolean; park(call: Call, parker: Leg, other: Leg): void };
}

/** Progress reports to a REFER's sender (RFC 3515 §2.4.5 NOTIFY with message/sipfrag). */
type Progress = (status: number, reason: string, final: boolean) => void;

export class BlindTransfer {
  constructor(private readonly deps: TransferDeps) {}

  start(): void {
    this.deps.codes.onFeature((call, leg, other, action) => {
      if (action === 'blindTransfer') this.collectTarget(call, leg, other);
    });
    this.deps.calls.onRefer = (call, leg, req, res) => this.onRefer(call, leg, req, res);
  }

  private hold(other: Leg, holder: Leg): PlayHandle | undefined {
    this.deps.media.unbridge(other.endpoint);
    const moh = mohFiles(this.deps.config(), this.deps.prompts, holder.extension);
    return moh.length > 0 ? this.deps.media.play(other.endpoint, moh, { loop: true }) : undefined;
  }

  /** #8 was typed: the other party is held while the transferor dials the target. */
  private collectTarget(call: Call, transferor: Leg, other: Leg): void {
    enterTarget(this.deps, call, transferor, other, {
      accepts: (number) => this.deps.park?.isLot(number) === true,
      onTarget: ({ number, moh, resumeDigits }) => {
        if (this.deps.park?.isLot(number)) {
          transferor.onDigit = resumeDigits;
          moh?.stop();
          this.deps.park.park(call, transferor, other);
          return;
        }
        transferor.onDigit = undefined;
        this.transfer(call, transferor, other, number, moh).catch(endCallOnFailure(this.deps.calls, call, 'blind transfer failed'));
      },
    });
  }

  /** A phone's transfer key: REFER with Refer-To; attended transfers (Replaces) are not handled here. */
  private onRefer(call: Call, transferor: Leg, req: SipRequest, res: ServerResponse): void {
    const referTo = req.get('refer-to');
    const addr = referTo ? parseNameAddr(referTo) : null;
    const uri = addr?.uri;
    const number = isSipUri(uri) ? uri.user : isTelUri(uri) ? uri.number : undefined;
    if (!addr || !number) {
      res.send(400, 'Bad Request (Refer-To)');
      return;
    }
    const replaces = isSipUri(uri) ? [...uri.headers].find(([k]) => k.toLowerCase() === 'replaces')?.[1] : undefined;
    if (replaces !== undefined) {
      this.replace(call, transferor, replaces, res);
      return;
    }
    const other = transferor.peer;
    if (!other || other.ended || !this.deps.calls.canReach(number)) {
      res.send(other && !other.ended ? 404 : 481);
      return;
    }
    res.send(202);
    const dialog = transferor.dialog;
    let cseqNotify = true;
    const progress: Progress = (status, reason, final) => {
      if (!dialog || dialog.state === 'terminated' || !cseqNotify) return;
      if (final) cseqNotify = false;
      void dialog
        .request({
          method: 'NOTIFY',
          headers: {
            event: 'refer',
            'subscription-state': final ? 'terminated;reason=noresource' : 'active;expires=60',
            'content-type': 'message/sipfrag;version=2.0',
          },
          body: `SIP/2.0 ${status} ${reason}\r\n`,
        })
        .catch(() => undefined);
    };
    progress(100, 'Trying', false);
    const moh = this.hold(other, transferor);
    this.transfer(call, transferor, other, number, moh, progress).catch(endCallOnFailure(this.deps.calls, call, 'blind transfer failed'));
  }

  /**
   * A phone's attended transfer: REFER on the first call with Refer-To carrying Replaces (RFC 3891) for
   * the transferor's second call. The other party of the first call and the other party of the second
   * are connected; both of the transferor's legs end.
   */
  private replace(call: Call, transferor: Leg, replaces: string, res: ServerResponse): void {
    const parts = replaces.split(';').map((p) => p.trim());
    const callId = parts[0] ?? '';
    const param = (name: string) => parts.find((p) => p.toLowerCase().startsWith(`${name}=`))?.slice(name.length + 1);
    const toTag = param('to-tag');
    const fromTag = param('from-tag');
    const held = transferor.peer;
    // The transferor names its own dialog with us: our tag is its remote (to) tag, its tag is our remote tag.
    const found = toTag && fromTag ? (this.deps.calls.findLeg(callId, toTag, fromTag) ?? this.deps.calls.findLeg(callId, fromTag, toTag)) : undefined;
    const target = found?.leg.peer;
    if (!found || !held || held.ended || !target || target.ended || found.call === call) {
      res.send(found ? 400 : 481, found ? 'Bad Request (nothing to join)' : 'Call Does Not Exist');
      return;
    }
    res.send(202);
    const { calls } = this.deps;
    const second = found.call;
    const otherLeg = found.leg;
    call.log.info({ joined: second.callId }, 'attended transfer by REFER/Replaces');
    // Nothing the transferor's phones do from now on ends either call.
    transferor.onEnded = () => undefined;
    otherLeg.onEnded = () => undefined;
    calls.holdHandler?.release(held);
    calls.holdHandler?.release(target);
    calls.moveLeg(target, second, call);
    call.feature = 'transfer_attended';
    call.transferredBy = transferor.extension ?? transferor.party.number;
    call.callee = target.party;
    calls.bridgeLegs(call, held, target);
    const dialog = transferor.dialog;
    if (dialog && dialog.state !== 'terminated') {
      void dialog
        .request({
          method: 'NOTIFY',
          headers: { event: 'refer', 'subscription-state': 'terminated;reason=noresource', 'content-type': 'message/sipfrag;version=2.0' },
          body: 'SIP/2.0 200 OK\r\n',
        })
        .catch(() => undefined)
        .finally(() => calls.dropLeg(transferor));
    }
    calls.dropLeg(otherLeg);
    calls.hangup(second, 'caller', 16, 'joined by attended transfer');
  }

  private async transfer(call: Call, transferor: Leg, other: Leg, number: string, moh: PlayHandle | undefined, progress?: Progress): Promise<void> {
    const { calls } = this.deps;
    const config = this.deps.config();
    call.feature = 'transfer_blind';
    call.transferredBy = transferor.extension ?? transferor.party.number;
    call.log.info({ target: number, transferor: call.transferredBy }, 'blind transfer');
    // The transferor's phone may hang up on its own (REFER); that must not end the call.
    transferor.onEnded = () => undefined;
    if (!progress) calls.dropLeg(transferor);
    // The other party must not end the call silently while we ring: its hangup ends everything.
    const presentedAs = other.party;
    const result = await calls.dialLeg(call, number, { presentedAs, ringTimeoutSec: config.calls.transferRingTimeout, by: transferor.extension });
    if (call.isFinished) return;
    if ('leg' in result) {
      moh?.stop();
      progress?.(200, 'OK', true);
      if (progress) calls.dropLeg(transferor);
      call.callee = result.leg.party;
      calls.bridgeLegs(call, other, result.leg);
      call.log.info({ target: number }, 'transfer completed');
      return;
    }
    progress?.(result.failure.status, 'Transfer failed', true);
    if (progress) calls.dropLeg(transferor);
    call.log.info({ target: number, status: result.failure.status }, 'transfer target failed: recalling the transferor');
    if (!transferor.extension) {
      calls.hangup(call, 'system', result.failure.cause, 'transfer failed');
      return;
    }
    const recall = await calls.dialLeg(call, transferor.extension, { presentedAs, ringTimeoutSec: config.calls.transferRingTimeout });
    if (call.isFinished) return;
    if ('leg' in recall) {
      moh?.stop();
      call.callee = recall.leg.party;
      calls.bridgeLegs(call, other, recall.leg);
      call.log.info('recalled the transferor');
      return;
    }
    moh?.stop();
    calls.hangup(call, 'system', result.failure.cause, 'transfer and recall failed');
  }
}
