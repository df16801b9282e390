// Builders and recorders shared by the transaction tests.
import { SipRequest, SipResponse, type HeaderEntry, type TransportSource } from '../../../../src/sip/message.js';
import type { SendTarget } from '../../../../src/sip/transport/types.js';
import { TransactionLayer, type SendFn } from '../../../../src/sip/transaction/layer.js';
import type { TimerConfig } from '../../../../src/sip/transaction/timers.js';
import { FakeClock } from '../../../support/fake-clock.js';

export interface SentRecord {
  at: number;
  msg: SipRequest | SipResponse;
  target: SendTarget;
}

/** A SendFn that records every message with the fake time it was sent; can be told to fail. */
export class SendRecorder {
  readonly sent: SentRecord[] = [];
  /** When set, every send reports this error (synchronously, as a failed write would). */
  failWith: Error | undefined;

  constructor(private readonly clock: FakeClock) {}

  readonly send: SendFn = (msg, target, cb) => {
    this.sent.push({ at: this.clock.now(), msg, target });
    if (this.failWith) cb?.(this.failWith);
    else cb?.();
  };

  requests(method?: string): SentRecord[] {
    return this.sent.filter((s) => s.msg instanceof SipRequest && (method === undefined || s.msg.method === method));
  }

  responses(status?: number): SentRecord[] {
    return this.sent.filter((s) => s.msg instanceof SipResponse && (status === undefined || s.msg.status === status));
  }

  /** Times (fake ms) at which matching messages went out. */
  timesOf(filter: (msg: SipRequest | SipResponse) => boolean): number[] {
    return this.sent.filter((s) => filter(s.msg)).map((s) => s.at);
  }

  clear(): void {
    this.sent.length = 0;
  }
}

export function setup(timers?: Partial<TimerConfig>): { clock: FakeClock; rec: SendRecorder; layer: TransactionLayer } {
  const clock = new FakeClock();
  const rec = new SendRecorder(clock);
  const layer = new TransactionLayer({ send: rec.send, clock, ...(timers ? { timers } : {}) });
  return { clock, rec, layer };
}

export const UDP_TARGET: SendTarget = { transport: 'udp', address: '192.0.2.10', port: 5060 };
export const TCP_TARGET: SendTarget = { transport: 'tcp', address: '192.0.2.10', port: 5060, connectionId: 'c1' };

export interface RequestSpec {
  method?: string;
  uri?: string;
  via?: string;
  /** Extra Via lines below the top one. */
  lowerVias?: string[];
  branch?: string;
  callId?: string;
  seq?: number;
  cseqMethod?: string;
  fromTag?: string;
  toTag?: string;
  routes?: string[];
  extra?: HeaderEntry[];
}

let counter = 0;

/** A request as a UA would send it; defaults give a unique branch and Call-ID per call. */
export function makeRequest(spec: RequestSpec = {}): SipRequest {
  const n = ++counter;
  const method = spec.method ?? 'INVITE';
  const via = spec.via ?? `SIP/2.0/UDP 192.0.2.1:5060;branch=${spec.branch ?? `z9hG4bKtest${n}`}`;
  const headers: HeaderEntry[] = [['via', via]];
  for (const v of spec.lowerVias ?? []) headers.push(['via', v]);
  headers.push(['max-forwards', '70']);
  for (const r of spec.routes ?? []) headers.push(['route', r]);
  headers.push(['from', `"Alice" <sip:alice@example.com>;tag=${spec.fromTag ?? `f${n}`}`]);
  headers.push(['to', `<sip:bob@example.com>${spec.toTag ? `;tag=${spec.toTag}` : ''}`]);
  headers.push(['call-id', spec.callId ?? `call-${n}@example.com`]);
  headers.push(['cseq', `${spec.seq ?? 1} ${spec.cseqMethod ?? method}`]);
  for (const e of spec.extra ?? []) headers.push(e);
  return new SipRequest(method, spec.uri ?? 'sip:bob@example.com', headers);
}

/** The same request arriving from the network with a transport source. */
export function incoming(req: SipRequest, source: Partial<TransportSource> = {}): SipRequest {
  req.source = {
    transport: 'udp',
    address: '192.0.2.1',
    port: 5060,
    localAddress: '192.0.2.100',
    localPort: 5060,
    ...source,
  };
  return req;
}

/** A byte-identical copy (what a retransmission is). */
export function copyRequest(req: SipRequest): SipRequest {
  const copy = new SipRequest(
    req.method,
    req.uri,
    req.headers.map(([k, v]) => [k, v] as HeaderEntry),
    req.body,
  );
  return copy;
}

/** A response to req as the far end would send it: Via/From/To/Call-ID/CSeq copied, optional To tag. */
export function makeResponse(req: SipRequest | undefined, status: number, toTag?: string, reason = 'Reason'): SipResponse {
  if (!req) throw new Error('the transaction no longer holds its request');
  const headers: HeaderEntry[] = [];
  for (const [k, v] of req.headers) {
    if (k === 'to' && toTag !== undefined && req.toTag === undefined) headers.push([k, `${v};tag=${toTag}`]);
    else if (k === 'via' || k === 'from' || k === 'to' || k === 'call-id' || k === 'cseq') headers.push([k, v]);
  }
  return new SipResponse(status, reason, headers);
}

/** Intervals between consecutive times. */
export function gaps(times: number[]): number[] {
  return times.slice(1).map((t, i) => t - (times[i] as number));
}
