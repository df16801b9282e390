// What a dialog takes from the messages that make it (RFC 3261 §12.1): identifiers, addresses, route set,
// sequence numbers and the flow, for dialogs we answer (INVITE, SUBSCRIBE) and dialogs we create.
import { ownString } from './strings.js';
import type { SipRequest, SipResponse } from './message.js';
import type { ServerResponse } from './server-response.js';
import type { DialogInit } from './dialog.js';
import type { SendTarget } from './transport/types.js';
import { responseTarget } from './transaction/response-routing.js';

/** The URI inside a Contact/Record-Route header value. */
export function contactUriText(value: string): string {
  const lt = value.indexOf('<');
  if (lt >= 0) {
    const gt = value.indexOf('>', lt);
    return value.slice(lt + 1, gt < 0 ? undefined : gt);
  }
  const semi = value.indexOf(';');
  return (semi >= 0 ? value.slice(0, semi) : value).trim();
}

/** What every dialog we answer takes from the request and our 2xx (RFC 3261 §12.1.1): INVITE and SUBSCRIBE alike. */
export function uasDialogInit(req: SipRequest, res: ServerResponse, ok: SipResponse) {
  // Copied out of the request's datagram text, which the dialog would otherwise keep for the whole call
  // (as the UAC side does with its 2xx).
  return {
    role: 'uas' as const,
    callId: ownString(req.callId),
    localTag: res.toTag,
    remoteTag: ownString(req.fromTag ?? ''),
    localAddress: ok.get('to') as string,
    remoteAddress: ownString(req.get('from') as string),
    routeSet: req.getAll('record-route').map(ownString),
    localSeq: Math.floor(Math.random() * 10000),
    remoteSeq: req.cseq?.seq ?? 0,
    flow: responseTarget(req),
  };
}

/**
 * What a dialog we create takes from our request and its answer (RFC 3261 §12.1.2). What comes from the
 * answer is copied out of its datagram's text, which the dialog would otherwise keep for the whole call.
 */
export function uacDialogInit(req: SipRequest, res: SipResponse, target: SendTarget, localSdp: string | undefined, localSeq?: number): DialogInit {
  const contact = res.get('contact');
  return {
    role: 'uac',
    callId: req.callId,
    localTag: req.fromTag ?? '',
    remoteTag: ownString(res.toTag ?? ''),
    localAddress: req.get('from') as string,
    remoteAddress: ownString(res.get('to') as string),
    remoteTarget: contact ? ownString(contactUriText(contact)) : req.uri,
    routeSet: res.getAll('record-route').reverse().map(ownString),
    localSeq: Math.max(localSeq ?? 0, req.cseq?.seq ?? 1),
    remoteSeq: 0,
    flow: res.source?.connectionId ? { ...target, connectionId: res.source.connectionId } : target,
    localSdp,
    remoteSdp: res.body.length > 0 ? res.body.toString('utf8') : undefined,
  };
}
