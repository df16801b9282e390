// Setting up a leg's media, written once: allocate the endpoint, answer the party's offer (or make ours
// for a delayed offer), map what fails to the response the party gets (503/47 when no RTP port is free,
// 488/65 when no codec is in common), and only then answer the INVITE, if it is still waiting.
import type { Logger } from 'pino';
import type { SipStack } from '../sip/stack.js';
import { MediaError, type EndpointId, type MediaEngine } from '../media/engine.js';
import type { CallRegistry } from './calls.js';
import type { InDialog } from './in-dialog.js';
import type { Leg } from './leg.js';
import { formatReason } from './q850.js';

/** Why a leg's media could not be set up, as the SIP status and Q.850 cause to answer with. */
export interface MediaFailure {
  status: number;
  cause: number;
  reason: string;
}

export type MediaResult = { ok: true } | ({ ok: false } & MediaFailure);

export function mediaFailure(err: unknown): MediaFailure {
  const status = err instanceof MediaError ? err.sipStatus : 500;
  const cause = err instanceof MediaError && err.q850 !== undefined ? err.q850 : status === 488 ? 65 : status === 503 ? 47 : 41;
  return { status, cause, reason: (err as Error).message };
}

const NO_PORTS: MediaFailure = { status: 503, cause: 47, reason: 'no RTP ports' };

/** No endpoint: the engine says why (rtpengine down: cause 41), else the ports ran out. */
function endpointFailure(err: unknown): MediaFailure {
  return err instanceof MediaError && err.q850 !== undefined ? mediaFailure(err) : NO_PORTS;
}
const GONE: MediaFailure = { status: 487, cause: 16, reason: 'the party went away before its media was set up' };

export class LegMedia {
  constructor(
    private readonly media: MediaEngine,
    private readonly stack: SipStack,
    private readonly registry: CallRegistry,
    private readonly inDialog: InDialog,
    private readonly logger: Logger,
  ) {}

  /** An endpoint of our own and the offer for it (a leg we are about to dial); `near`: the endpoint it will be bridged to. */
  async offer(label: string, near?: EndpointId): Promise<{ ok: true; endpoint: EndpointId; sdp: string } | ({ ok: false } & MediaFailure)> {
    let endpoint: EndpointId;
    try {
      endpoint = await this.media.createEndpoint(near === undefined ? { label } : { label, near });
    } catch (err) {
      this.logger.error({ err, label }, 'no media endpoint');
      return { ok: false, ...endpointFailure(err) };
    }
    try {
      return { ok: true, endpoint, sdp: await this.media.createOffer(endpoint) };
    } catch (err) {
      this.media.destroy(endpoint);
      return { ok: false, ...mediaFailure(err) };
    }
  }

  /**
   * The media of an offered leg: its endpoint, and our answer to its offer (or our offer, for an INVITE
   * without SDP) kept in leg.localSdp for the 2xx or 183. Done once; later calls return the first result.
   */
  async prepare(leg: Leg): Promise<MediaResult> {
    // A leg answered already (a dialled leg handed to a destination, a click-to-call caller) has its media.
    if (leg.localSdp !== undefined || leg.state === 'answered') return { ok: true };
    const invite = leg.invite;
    if (leg.endpoint === undefined) {
      let endpoint: EndpointId;
      try {
        endpoint = await this.media.createEndpoint({ label: `${invite?.req.callId ?? leg.id}/${leg.role}` });
      } catch (err) {
        this.logger.error({ err, callId: invite?.req.callId }, 'no media endpoint');
        return { ok: false, ...endpointFailure(err) };
      }
      // The party went away (CANCEL) while the endpoint was made: its leg's media was already freed, so
      // nothing else would free this endpoint.
      if (leg.ended) {
        this.media.destroy(endpoint);
        return { ok: false, ...GONE };
      }
      leg.endpoint = endpoint;
      this.registry.indexEndpoint(leg);
    }
    try {
      leg.localSdp = invite?.sdp !== undefined ? (await this.media.answerOffer(leg.endpoint, invite.sdp)).sdp : await this.media.createOffer(leg.endpoint);
      return { ok: true };
    } catch (err) {
      return { ok: false, ...mediaFailure(err) };
    }
  }

  /**
   * Answer an offered leg with our SDP: its dialog is made and wired to its owner. False when its media
   * failed (the INVITE has been refused) or it went away meanwhile (CANCEL: the stack answered 487).
   */
  async answer(leg: Leg): Promise<MediaResult | { ok: false; gone: true }> {
    const invite = leg.invite;
    if (!invite) return { ok: true };
    const prepared = await this.prepare(leg);
    if (invite.res.finalResponseSent || leg.ended) return { ok: false, gone: true };
    if (!prepared.ok) {
      invite.res.send(prepared.status, undefined, { headers: { reason: formatReason(prepared.cause) } });
      return prepared;
    }
    let dialog;
    try {
      dialog = this.stack.createUAS(invite.req, invite.res, { localSdp: leg.localSdp });
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, callId: invite.req.callId }, 'INVITE not answered');
      if (!invite.res.finalResponseSent) invite.res.send(500, undefined, { headers: { reason: formatReason(41) } });
      return { ok: false, status: 500, cause: 41, reason: (err as Error).message };
    }
    leg.markAnswered(dialog);
    this.inDialog.wire(leg);
    return { ok: true };
  }

  /** Early media for an offered leg: 183 with our SDP (the Contact of the early dialog). */
  sendEarlyMedia(leg: Leg): boolean {
    const invite = leg.invite;
    if (!invite || invite.res.finalResponseSent || leg.localSdp === undefined || !invite.req.source) return false;
    const contact = `<${this.stack.contactUri(invite.req.source.transport, invite.req.source.address)}>`;
    invite.res.send(183, undefined, { headers: { 'content-type': 'application/sdp', contact }, body: leg.localSdp });
    return true;
  }

  /** Apply the far end's answer to the offer we dialled a leg with. */
  async accept(endpoint: EndpointId, sdp: string | undefined): Promise<MediaResult> {
    if (sdp === undefined) return { ok: true };
    try {
      await this.media.acceptAnswer(endpoint, sdp);
      return { ok: true };
    } catch (err) {
      return { ok: false, ...mediaFailure(err) };
    }
  }
}
