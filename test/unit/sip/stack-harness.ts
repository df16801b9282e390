// A SipStack driven by a fake clock, fed messages directly (SipStack.receive) and with every send
// recorded instead of leaving the process: for the stack-level tests of issue #14 (stateless answers,
// admission, rate limit, overload), which need exact counts and timer control rather than sockets.
import { vi } from 'vitest';
import { SipStack, type StackOptions } from '../../../src/sip/stack.js';
import { SipRequest, SipResponse, type TransportSource } from '../../../src/sip/message.js';
import { parseMessage } from '../../../src/sip/parser.js';
import type { SendTarget } from '../../../src/sip/transport/types.js';
import { FakeClock } from '../../support/fake-clock.js';
import { captureLogger } from '../../support/logger.js';

export interface Sent {
  at: number;
  msg: SipRequest | SipResponse;
  target: SendTarget;
}

export interface StackHarness {
  stack: SipStack;
  clock: FakeClock;
  sent: Sent[];
  logs: Array<Record<string, unknown>>;
  /** Responses sent, optionally only those for one Call-ID. */
  responses(callId?: string): SipResponse[];
  /** Feed one message as if it came from `source` (default UDP from 192.0.2.1:5060). */
  deliver(text: string, source?: Partial<TransportSource>): void;
  stop(): Promise<void>;
}

export async function stackHarness(opts: Partial<StackOptions> = {}): Promise<StackHarness> {
  const clock = new FakeClock(1_000_000);
  const { logger, lines } = captureLogger('debug');
  const stack = new SipStack({ listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], logger, clock, ...opts });
  const sent: Sent[] = [];
  vi.spyOn(stack.transport, 'send').mockImplementation((data, target, cb) => {
    const parsed = parseMessage(data);
    if (!parsed.ok) throw new Error('the stack sent something unparsable');
    sent.push({ at: clock.now(), msg: parsed.message, target });
    cb?.();
  });
  vi.spyOn(stack.transport, 'closeConnection').mockImplementation(() => undefined);
  await stack.start();
  return {
    stack,
    clock,
    sent,
    logs: lines,
    responses(callId) {
      return sent.map((s) => s.msg).filter((m): m is SipResponse => m instanceof SipResponse && (callId === undefined || m.callId === callId));
    },
    deliver(text, source = {}) {
      stack.receive(Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1'), {
        transport: 'udp',
        address: '192.0.2.1',
        port: 5060,
        localAddress: '127.0.0.1',
        localPort: 5060,
        ...source,
      });
    },
    stop: () => stack.stop(),
  };
}

let serial = 0;

export interface Req {
  method?: string;
  callId?: string;
  branch?: string;
  toTag?: string;
  fromTag?: string;
  seq?: number;
  cseqMethod?: string;
  host?: string;
  headers?: string[];
}

/** A request's text (LF line ends; deliver() makes them CRLF). Defaults make a new out-of-dialog INVITE. */
export function request(r: Req = {}): string {
  const n = ++serial;
  const method = r.method ?? 'INVITE';
  return [
    `${method} sip:2002@hibiki.test SIP/2.0`,
    `Via: SIP/2.0/UDP ${r.host ?? '192.0.2.1'}:5060;branch=${r.branch ?? `z9hG4bK-h${n}`}`,
    'Max-Forwards: 70',
    `From: <sip:2001@hibiki.test>;tag=${r.fromTag ?? `f${n}`}`,
    `To: <sip:2002@hibiki.test>${r.toTag ? `;tag=${r.toTag}` : ''}`,
    `Call-ID: ${r.callId ?? `call-${n}`}`,
    `CSeq: ${r.seq ?? 1} ${r.cseqMethod ?? method}`,
    ...(r.headers ?? []),
    'Content-Length: 0',
    '',
    '',
  ].join('\n');
}

/** The ACK for a non-2xx final answer to `invite` (same branch, the answer's To). */
export function ackFor(invite: string, answer: SipResponse): string {
  const line = (name: string) => invite.split('\n').find((l) => l.startsWith(`${name}:`)) as string;
  return [
    'ACK sip:2002@hibiki.test SIP/2.0',
    line('Via'),
    'Max-Forwards: 70',
    line('From'),
    `To: ${answer.get('to')}`,
    line('Call-ID'),
    `CSeq: ${/CSeq: (\d+)/.exec(invite)?.[1]} ACK`,
    'Content-Length: 0',
    '',
    '',
  ].join('\n');
}
