// F-XFER-BLIND: blind (direct) transfer by the in-call code (#8 + target + confirm) or by a phone's
// transfer key (REFER without Replaces, RFC 3515). The other party hears music on hold while the
// transferor dials and while the target rings; the transferor's leg ends at once. If the target is
// busy, unreachable or does not answer within calls.transferRingTimeout, the call rings the
// transferor back (recall) instead of being lost. A REFER with Replaces (RFC 3891) joins the
// transferor's two calls (a phone's own attended transfer).
import type { HibikiConfig } from '../config/schema.js';
import type { PlayHandle } from '../media/engine.js';
import type { PromptCatalogue } from '../media/prompts.js';
import type { Clock } from '../util/clock.js';
import type { SipRequest } from '../sip/message.js';
import type { ServerResponse } from '../sip/server-response.js';
import { parseNameAddr } from '../sip/address.js';
import { isSipUri, isTelUri } from '../sip/uri.js';
import type { CallApi, Feature, FeatureRegistry, InCallContext } from '../pbx/application.js';
import type { Leg, LegHandle, LegOwner } from '../pbx/leg.js';
import { mohFiles } from '../pbx/extension-audio.js';
import { endCallOnFailure } from '../pbx/failures.js';
import { enterTarget, hangUpCall } from './target-entry.js';

export interface TransferDeps {
  prompts: PromptCatalogue;
  clock: Clock;
  config: () => HibikiConfig;
  /** A transfer to the park lot number parks the call (F-PARK). */
  park?: { isLot(number: string): boolean; park(session: CallApi, parker: LegHandle, other: LegHandle): void };
  /** Stops the music a phone's hold started, when a REFER/Replaces joins held parties. */
  hold?: { release(leg: Leg): void };
}

/** Progress reports to a REFER's sender (RFC 3515 §2.4.5 NOTIFY with message/sipfrag). */
type Progress = (status: number, reason: string, final: boolean) => void;

/** The transferor's leg once it is leaving: its phone hanging up must not end the call. */
const LEAVING: LegOwner = { label: 'transferor (leaving)', ended: () => undefined };

export class BlindTransfer implements Feature {
  constructor(private readonly deps: TransferDeps) {}

  register(r: FeatureRegistry): void {
    r.inCallCode('blindTransfer', (ctx) => this.collectTarget(ctx));
    r.refer((ctx, req, res) => this.onRefer(ctx, req, res));
  }

  /** #8 was typed: the other party is held while the transferor dials the target. */
  private collectTarget(ctx: InCallContext): void {
    const { park } = this.deps;
    enterTarget(this.deps, ctx, {
      accepts: (number) => park?.isLot(number) === true,
      onTarget: ({ number, moh, transferor, other }) => {
        if (park?.isLot(number)) {
          moh?.stop();
          park.park(ctx.session, transferor, other);
          return;
        }
        this.transfer(ctx, transferor, other, number, moh).catch(endCallOnFailure(ctx.session, 'blind transfer failed'));
      },
    });
  }

  /** A phone's transfer key: REFER with Refer-To (with Replaces: the phone's own attended transfer). */
  private onRefer(ctx: InCallContext, req: SipRequest, res: ServerResponse): void {
    const referTo = req.get('refer-to');
    const addr = referTo ? parseNameAddr(referTo) : null;
    const uri = addr?.uri;
    // An attended transfer's Refer-To is the target dialog's remote target, often our own Contact without a
    // user part (SIP.js, RFC 5589 §7.1): Replaces alone says what to join.
    const replaces = isSipUri(uri) ? [...uri.headers].find(([k]) => k.toLowerCase() === 'replaces')?.[1] : undefined;
    if (addr && replaces !== undefined) {
      this.replace(ctx, replaces, res);
      return;
    }
    const number = isSipUri(uri) ? uri.user : isTelUri(uri) ? uri.number : undefined;
    if (!addr || !number) {
      res.send(400, 'Bad Request (Refer-To)');
      return;
    }
    const { session, leg, other } = ctx;
    if (other.ended || !session.canReach(number)) {
      res.send(other.ended ? 481 : 404);
      return;
    }
    res.send(202);
    const dialog = leg.dialog;
    let notifying = true;
    const progress: Progress = (status, reason, final) => {
      if (!dialog || dialog.state === 'terminated' || !notifying) return;
      if (final) notifying = false;
      dialog
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
    const owner: LegOwner = { label: 'blind transfer', ended: (l, end) => hangUpCall(ctx, l, end) };
    const transferor = leg.take(owner);
    const held = other.take(owner);
    const moh = session.play(other, mohFiles(this.deps.config(), this.deps.prompts, leg.extension), { loop: true });
    this.transfer(ctx, transferor, held, number, moh, progress).catch(endCallOnFailure(session, 'blind transfer failed'));
  }

  /**
   * A phone's attended transfer: REFER on the first call with Refer-To carrying Replaces (RFC 3891) for
   * the transferor's second call. The other party of the first call and the other party of the second
   * are connected; both of the transferor's legs end.
   */
  private replace(ctx: InCallContext, replaces: string, res: ServerResponse): void {
    const { session } = ctx;
    const parts = replaces.split(';').map((p) => p.trim());
    const callId = parts[0] ?? '';
    const param = (name: string) => parts.find((p) => p.toLowerCase().startsWith(`${name}=`))?.slice(name.length + 1);
    const toTag = param('to-tag');
    const fromTag = param('from-tag');
    const held = ctx.other;
    // The transferor names its own dialog with us: our tag is its remote (to) tag, its tag is our remote tag.
    const found = toTag && fromTag ? (session.findDialog(callId, toTag, fromTag) ?? session.findDialog(callId, fromTag, toTag)) : undefined;
    const target = found?.leg.peer;
    if (!found || held.ended || !target || target.ended || found.session.call === session.call) {
      res.send(found ? 400 : 481, found ? 'Bad Request (nothing to join)' : 'Call Does Not Exist');
      return;
    }
    res.send(202);
    const call = session.call;
    const second = found.session;
    call.log.info({ joined: second.call.callId }, 'attended transfer by REFER/Replaces');
    // Nothing the transferor's phones do from now on ends either call.
    const transferor = ctx.leg.take(LEAVING);
    const otherLeg = found.leg.take(LEAVING);
    const owner: LegOwner = { label: 'joining', ended: (l, end) => hangUpCall(ctx, l, end) };
    const heldHandle = held.take(owner);
    const targetHandle = target.take(owner);
    this.deps.hold?.release(held);
    this.deps.hold?.release(target);
    second.moveInto(targetHandle, session);
    call.feature = 'transfer_attended';
    call.transferredBy = ctx.leg.extension ?? ctx.leg.party.number;
    call.callee = target.party;
    call.report({ state: 'transferred', kind: 'attended', by: call.transferredBy, to: target.party.number });
    session.bridge(heldHandle, targetHandle);
    const dialog = ctx.leg.dialog;
    if (dialog && dialog.state !== 'terminated') {
      dialog
        .request({
          method: 'NOTIFY',
          headers: { event: 'refer', 'subscription-state': 'terminated;reason=noresource', 'content-type': 'message/sipfrag;version=2.0' },
          body: 'SIP/2.0 200 OK\r\n',
        })
        .catch(() => undefined)
        .finally(() => session.drop(transferor));
    }
    second.drop(otherLeg);
    second.hangup('caller', 16, 'joined by attended transfer');
  }

  private async transfer(ctx: InCallContext, transferorHandle: LegHandle, otherHandle: LegHandle, number: string, moh: PlayHandle | undefined, progress?: Progress): Promise<void> {
    const { session } = ctx;
    const call = session.call;
    const config = this.deps.config();
    const transferor = transferorHandle.leg;
    const other = otherHandle.leg;
    call.feature = 'transfer_blind';
    call.transferredBy = transferor.extension ?? transferor.party.number;
    call.log.info({ target: number, transferor: call.transferredBy }, 'blind transfer');
    call.report({ state: 'transferred', kind: 'blind', by: call.transferredBy, to: number });
    // The transferor's phone may hang up on its own (REFER); that must not end the call.
    const leaving = transferorHandle.handOver(LEAVING);
    if (!progress) session.drop(leaving);
    // The other party hanging up while the target rings ends the call (and with it the ringing).
    const held = otherHandle.handOver({ label: 'being transferred', ended: (l, end) => hangUpCall(ctx, l, end) });
    if (session.takesLeg(number)) {
      // An IVR, a voicemail box, a queue or a conference room takes the transferred party itself.
      moh?.stop();
      progress?.(200, 'OK', true);
      if (progress) session.drop(leaving);
      call.log.info({ target: number }, 'transfer hands the call to an application');
      await session.handTo(held, number);
      return;
    }
    const presentedAs = other.party;
    const result = await session.dial(number, { presentedAs, ringTimeoutSec: config.calls.transferRingTimeout, by: transferor.extension });
    if (call.isFinished) return;
    if (result.ok) {
      moh?.stop();
      progress?.(200, 'OK', true);
      if (progress) session.drop(leaving);
      call.callee = result.leg.leg.party;
      session.bridge(held, result.leg);
      call.log.info({ target: number }, 'transfer completed');
      return;
    }
    progress?.(result.status, 'Transfer failed', true);
    if (progress) session.drop(leaving);
    call.log.info({ target: number, status: result.status }, 'transfer target failed: recalling the transferor');
    if (!transferor.extension) {
      session.hangup('system', result.cause, 'transfer failed');
      return;
    }
    const recall = await session.dial(transferor.extension, { presentedAs, ringTimeoutSec: config.calls.transferRingTimeout });
    if (call.isFinished) return;
    moh?.stop();
    if (recall.ok) {
      call.callee = recall.leg.leg.party;
      session.bridge(held, recall.leg);
      call.log.info('recalled the transferor');
      return;
    }
    session.hangup('system', result.cause, 'transfer and recall failed');
  }
}
