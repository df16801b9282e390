// A dialog reduced to what it takes to end it after the process that held it is gone: a plain,
// JSON-safe record taken while the dialog is up, and a Dialog rebuilt from it that can send BYE
// (RFC 3261 §12.2.1.1) through a new stack. Kamailio's dialog module keeps the same minimum in its
// database for the same purpose.
import { isIP } from 'node:net';
import { Dialog, type DialogRole } from './dialog.js';
import type { SipResponse } from './message.js';
import type { HeaderInput } from './response-builder.js';
import type { DialogHost } from './dialog-host.js';
import { defaultPort, resolveTarget } from './target.js';
import type { SendTarget, TransportName } from './transport/types.js';
import { isSipUri, parseUri } from './uri.js';

export interface DialogSnapshot {
  role: DialogRole;
  callId: string;
  localTag: string;
  remoteTag: string;
  /** Our From (UAC) or To (UAS) header value, tag included. */
  localAddress: string;
  remoteAddress: string;
  /** The peer's Contact URI: the Request-URI of in-dialog requests. */
  remoteTarget: string;
  /** Route headers of in-dialog requests, in order. */
  routeSet: string[];
  /** The CSeq number of the last request we sent in the dialog when the snapshot was taken. */
  localSeq: number;
  /** Where in-dialog requests went without a route set (connection ids are not kept: they die with the process). */
  flow: { transport: TransportName; address: string; port: number };
}

/**
 * How far a restored dialog's CSeq jumps past the snapshot. RFC 3261 §12.2.1.1 wants each request of a
 * dialog to carry a higher CSeq than the last, and a peer answers a lower one with 500 (§12.2.2) — but
 * a snapshot is taken when a call is answered or re-bridged, not on every in-dialog request (that would
 * be a disk write per session refresh, re-INVITE or INFO). Those requests add one each; 100,000 covers
 * a session refresh every 45 s (the smallest Min-SE) for seven weeks plus every re-INVITE a person can
 * make, and stays far below the 2^31 limit of §8.1.1.5.
 */
export const RESTORED_CSEQ_STEP = 100_000;
const MAX_CSEQ = 2 ** 31 - 1;

/** What a live dialog needs to be ended later by another process. */
export function snapshotDialog(d: Dialog): DialogSnapshot {
  return {
    role: d.role,
    callId: d.callId,
    localTag: d.localTag,
    remoteTag: d.remoteTag,
    localAddress: d.localAddress,
    remoteAddress: d.remoteAddress,
    remoteTarget: d.remoteTarget,
    routeSet: [...d.routeSet],
    localSeq: d.localSeq,
    flow: { transport: d.flow.transport, address: d.flow.address, port: d.flow.port },
  };
}

/**
 * A confirmed dialog rebuilt from a snapshot and registered with `stack`, so that the peer's own BYE
 * for it is answered 200 (not 481) while it waits for ours. Its CSeq continues RESTORED_CSEQ_STEP past
 * the snapshot; the peer's is unknown, so any request from the peer is taken as in order.
 *
 * Where its requests go: through the route set when there is one; over UDP to the address the dialog
 * used (the peer's symmetric source, right behind a NAT too); over TCP/TLS by a new connection to the
 * host and port of the peer's Contact, keeping the transport (a TLS leg is never downgraded), because
 * the old connection died with the process and the port it came from is an ephemeral one nobody listens
 * on. A WebSocket peer cannot be reached at all — a browser accepts no connections — so its BYE fails at
 * once with a transport error (503); the browser saw its WebSocket close when the old process died.
 */
export async function restoreDialog(stack: DialogHost<Dialog>, snap: DialogSnapshot): Promise<Dialog> {
  const d = new Dialog(stack, {
    role: snap.role,
    callId: snap.callId,
    localTag: snap.localTag,
    remoteTag: snap.remoteTag,
    localAddress: snap.localAddress,
    remoteAddress: snap.remoteAddress,
    remoteTarget: snap.remoteTarget,
    routeSet: [...snap.routeSet],
    localSeq: Math.min(snap.localSeq + RESTORED_CSEQ_STEP, MAX_CSEQ - 1),
    remoteSeq: 0,
    flow: await restoredFlow(snap),
  });
  stack.dialogs.add(d);
  return d;
}

/**
 * Send BYE in a restored dialog and resolve with the final response: the peer's, or the stack's own 408
 * (no answer within 64*T1) or 503 (transport error). Undefined when the peer hung up first (its BYE
 * ended the dialog and was answered 200), so there is nothing to send.
 */
export async function byeRestored(d: Dialog, headers?: HeaderInput): Promise<SipResponse | undefined> {
  if (d.state === 'terminated') return undefined;
  d.terminate(undefined, false);
  return d.request({ method: 'BYE', headers });
}

async function restoredFlow(snap: DialogSnapshot): Promise<SendTarget> {
  const stored: SendTarget = { ...snap.flow };
  if (snap.flow.transport !== 'tcp' && snap.flow.transport !== 'tls') return stored;
  const uri = parseUri(snap.remoteTarget);
  if (!uri || !isSipUri(uri)) return stored;
  try {
    const contact = isIP(uri.host) ? undefined : await resolveTarget(uri);
    return { transport: snap.flow.transport, address: contact?.address ?? uri.host, port: uri.port ?? defaultPort(snap.flow.transport) };
  } catch {
    // An unresolvable Contact host: the old flow's address is the only other lead.
    return stored;
  }
}
