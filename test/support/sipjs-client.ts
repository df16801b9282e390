// A SIP.js (0.21) user agent running in Node over the `ws` package, for interop tests of hibiki's
// WebSocket transports (RFC 7118). Calls need a SessionDescriptionHandler passed in (test/support/sipjs-call.ts).
import { WebSocket, type ClientOptions } from 'ws';
import { Registerer, RegistererState, UserAgent, type LogLevel, type SessionDescriptionHandlerFactory, type UserAgentDelegate } from 'sip.js';

/**
 * SIP.js opens its socket with the browser call `new WebSocket(url, 'sip')` on the global object.
 * Node 20 has no global WebSocket, so the `ws` client stands in for it. Per-origin client options
 * (a CA to trust for wss) cannot be passed through that call, hence this origin-keyed table.
 */
const clientOptionsByOrigin = new Map<string, ClientOptions>();

class NodeWebSocket extends WebSocket {
  constructor(address: string | URL, protocols?: string | string[]) {
    super(address, protocols, clientOptionsByOrigin.get(new URL(address).origin) ?? {});
  }
}

function installGlobalWebSocket(): void {
  const g = globalThis as { WebSocket?: unknown };
  if (g.WebSocket !== NodeWebSocket) g.WebSocket = NodeWebSocket;
}

export interface SipJsClientOptions {
  /** ws://127.0.0.1:PORT or wss://127.0.0.1:PORT */
  server: string;
  user: string;
  password: string;
  domain?: string;
  /** PEM of a certificate the wss client trusts (the server's self-signed one). */
  ca?: string | Buffer;
  /** Registration interval asked for, in seconds. */
  expires?: number;
  /** Media for calls (SIP.js's default needs WebRTC, which Node lacks): see test/support/sipjs-call.ts. */
  sessionDescriptionHandlerFactory?: SessionDescriptionHandlerFactory;
  /** Incoming INVITEs, MESSAGEs… (UserAgent delegate). */
  delegate?: UserAgentDelegate;
}

export type RegisterOutcome = { registered: true } | { registered: false; status: number | undefined; reason: string };

export interface SipJsClient {
  readonly ua: UserAgent;
  readonly registerer: Registerer;
  /** What SIP.js logged (all but debug, first 500 entries), including its SIP trace. */
  readonly logs: string[];
  /** Sends REGISTER and settles when SIP.js reaches Registered or gives up (final non-2xx, or timeout). */
  register(timeoutMs?: number): Promise<RegisterOutcome>;
  /** Sends REGISTER with Expires: 0 and settles when SIP.js reaches Unregistered. */
  unregister(timeoutMs?: number): Promise<void>;
  /** Stops the user agent and closes its WebSocket; safe to call more than once. */
  stop(): Promise<void>;
}

export async function startSipJsClient(opts: SipJsClientOptions): Promise<SipJsClient> {
  installGlobalWebSocket();
  const origin = new URL(opts.server).origin;
  if (opts.ca) clientOptionsByOrigin.set(origin, { ca: opts.ca });
  const logs: string[] = [];
  const domain = opts.domain ?? 'hibiki.test';
  const uri = UserAgent.makeURI(`sip:${opts.user}@${domain}`);
  if (!uri) throw new Error(`bad SIP.js user URI for ${opts.user}`);
  const ua = new UserAgent({
    uri,
    // traceSip puts every message sent and received into `logs`, for assertions and failure messages.
    transportOptions: { server: opts.server, connectionTimeout: 5, traceSip: true },
    authorizationUsername: opts.user,
    authorizationPassword: opts.password,
    logBuiltinEnabled: false,
    logLevel: 'warn',
    // The connector sees every level whatever logLevel says; the transaction-level chatter is left out.
    logConnector: (level: LogLevel, category: string, _label: string | undefined, content: string) => {
      if (level !== 'debug' && logs.length < 500) logs.push(`${level} ${category}: ${content}`);
    },
    // A test must fail fast rather than wait on reconnection back-off.
    reconnectionAttempts: 0,
    ...(opts.sessionDescriptionHandlerFactory ? { sessionDescriptionHandlerFactory: opts.sessionDescriptionHandlerFactory } : {}),
    ...(opts.delegate ? { delegate: opts.delegate } : {}),
  });
  try {
    await ua.start();
  } catch (err) {
    clientOptionsByOrigin.delete(origin);
    await ua.stop().catch(() => undefined);
    throw err;
  }
  const registerer = new Registerer(ua, { expires: opts.expires ?? 300 });
  let stopped = false;

  function waitForState(wanted: RegistererState, timeoutMs: number): { done: Promise<boolean>; cancel: () => void } {
    let cancel = (): void => {};
    const done = new Promise<boolean>((resolve) => {
      if (registerer.state === wanted) {
        resolve(true);
        return;
      }
      const listener = (state: RegistererState): void => {
        if (state !== wanted) return;
        resolve(true);
        cancel();
      };
      const timer = setTimeout(() => {
        cancel();
        resolve(false);
      }, timeoutMs);
      cancel = () => {
        clearTimeout(timer);
        registerer.stateChange.removeListener(listener);
        resolve(false);
      };
      registerer.stateChange.addListener(listener);
    });
    return { done, cancel };
  }

  return {
    ua,
    registerer,
    logs,
    async register(timeoutMs = 5000) {
      const registered = waitForState(RegistererState.Registered, timeoutMs);
      const rejected = new Promise<RegisterOutcome>((resolve) => {
        registerer
          .register({
            requestDelegate: {
              onReject: (response) => {
                const msg = response.message;
                resolve({ registered: false, status: msg.statusCode, reason: msg.reasonPhrase ?? '' });
              },
            },
          })
          .catch((err: unknown) => resolve({ registered: false, status: undefined, reason: String(err) }));
      });
      const outcome = await Promise.race([registered.done.then((ok): RegisterOutcome => (ok ? { registered: true } : { registered: false, status: undefined, reason: 'timeout' })), rejected]);
      registered.cancel();
      return outcome;
    },
    async unregister(timeoutMs = 5000) {
      const unregistered = waitForState(RegistererState.Unregistered, timeoutMs);
      await registerer.unregister();
      if (!(await unregistered.done)) throw new Error(`SIP.js did not unregister within ${timeoutMs} ms: ${logs.join('\n')}`);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clientOptionsByOrigin.delete(origin);
      // UserAgent.stop() unregisters first when still registered; bounded so a dead server cannot hang cleanup.
      await Promise.race([ua.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 3000))]);
      await ua.transport.dispose().catch(() => undefined);
    },
  };
}
