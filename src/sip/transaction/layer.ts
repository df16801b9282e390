// The transaction layer (RFC 3261 §17): owns every client and server transaction, matches
// incoming messages to them, and tells the stack what is left for the transaction user.
import type { Logger } from 'pino';
import { realClock, type Clock } from '../../util/clock.js';
import type { HeaderEntry, SipRequest, SipResponse } from '../message.js';
import type { SendTarget } from '../transport/types.js';
import { clientKey, isRfc3261Branch, legacyKey, sentByKey, serverKey } from './branch.js';
import { ownString } from '../strings.js';
import { ClientInviteTransaction } from './client-invite.js';
import { ClientNonInviteTransaction } from './client-non-invite.js';
import { responseTarget, stampReceived, topViaOf } from './response-routing.js';
import { ServerInviteTransaction } from './server-invite.js';
import { ServerNonInviteTransaction } from './server-non-invite.js';
import { resolveTimers, type TimerConfig } from './timers.js';
import type { ClientTransaction, ClientTransactionHandlers, SendFn, ServerTransaction, TransactionContext } from './types.js';

export type { ClientTransaction, ClientTransactionHandlers, SendFn, ServerTransaction, ServerTransactionEvents } from './types.js';

export interface TransactionLayerOptions {
  send: SendFn;
  clock?: Clock;
  timers?: Partial<TimerConfig>;
  logger?: Logger;
}

/** Why a new request gets no server transaction: it is answered statelessly with this. */
export interface Refusal {
  status: number;
  reason?: string;
  headers?: HeaderEntry[];
}

/**
 * Asked before a new server transaction is made (never for a retransmission or an ACK): undefined
 * admits the request, a Refusal keeps it out. cancelsInvite: a CANCEL whose INVITE transaction exists.
 */
export type Admission = (req: SipRequest, cancelsInvite: boolean) => Refusal | undefined;

/** What the stack must do with an incoming request once the transaction layer has seen it. */
export type RequestDisposition =
  /**
   * A new request: hand it to the TU, which answers through tx.respond(). For an INVITE no 100
   * Trying has been sent: the TU answers or calls tx.sendTrying() before it returns.
   */
  | { kind: 'new'; tx: ServerTransaction }
  /** A new request the admission refused: no transaction exists for it. */
  | { kind: 'refused'; refusal: Refusal }
  /** A retransmission, an ACK for a non-2xx, or an unusable request: nothing to do. */
  | { kind: 'absorbed' }
  /** An ACK for a 2xx, or an ACK matching no transaction: for the dialog layer. */
  | { kind: 'ack'; req: SipRequest }
  /**
   * A new CANCEL: tx is the CANCEL's own transaction (answer it 200 or 481), invite the
   * INVITE server transaction it names, if any, in whatever state it is.
   */
  | { kind: 'cancel'; tx: ServerTransaction; invite?: ServerTransaction };

type ServerTx = ServerInviteTransaction | ServerNonInviteTransaction;
type ClientTx = ClientInviteTransaction | ClientNonInviteTransaction;

/** An RFC 2543 server transaction, indexed by everything §17.2.3 compares but the To tag and method. */
interface LegacyEntry {
  tx: ServerTx;
  method: string;
  toTag: string;
}

const ABSORBED = { kind: 'absorbed' } as const;

const NO_HANDLERS: ClientTransactionHandlers = {
  onFinal() {},
  onTimeout() {},
  onTransportError() {},
};

export class TransactionLayer {
  readonly timers: TimerConfig;
  private readonly ctx: TransactionContext;
  private readonly logger: Logger | undefined;
  private readonly clients = new Map<string, ClientTx>();
  private readonly servers = new Map<string, ServerTx>();
  private readonly legacyServers = new Map<string, LegacyEntry[]>();
  private legacyCount = 0;

  constructor(opts: TransactionLayerOptions) {
    this.timers = resolveTimers(opts.timers);
    this.logger = opts.logger;
    this.ctx = { send: opts.send, clock: opts.clock ?? realClock, timers: this.timers, logger: opts.logger };
  }

  get size(): { client: number; server: number } {
    return { client: this.clients.size, server: this.servers.size + this.legacyCount };
  }

  /** Called by the stack for every parsed incoming request; `admit` vets the ones that would make a transaction. */
  receiveRequest(req: SipRequest, admit?: Admission): RequestDisposition {
    const source = req.source;
    if (!source) throw new Error('receiveRequest: request has no transport source');
    const rawTopVia = req.getAll('via')[0];
    const via = topViaOf(req);
    const cseq = req.cseq;
    if (rawTopVia === undefined || !via || !cseq) {
      // The parser rejects these; without a Via there is nowhere to answer, so drop it.
      this.debug('request without usable Via/CSeq dropped', { callId: req.callId, method: req.method });
      return ABSORBED;
    }
    // The match uses the Via as sent (a retransmission is byte-identical), the response the stamped one.
    const sentBy = sentByKey(via.host, via.port);
    const branch = via.params.get('branch');
    stampReceived(req, via, source);
    if (isRfc3261Branch(branch)) return this.matchRfc3261(req, serverKey(branch, sentBy, req.method), branch, sentBy, admit);
    return this.matchLegacy(req, legacyKey(req, rawTopVia, cseq.seq), admit);
  }

  /** Called for every parsed incoming response. False when no client transaction matched. */
  receiveResponse(res: SipResponse): boolean {
    const branch = topViaOf(res)?.params.get('branch');
    const method = res.cseq?.method;
    if (!branch || !method) return false;
    const tx = this.clients.get(clientKey(branch, method));
    if (!tx) return false;
    tx.receive(res);
    return true;
  }

  /**
   * Start a client transaction. The request must already carry its top Via with a branch
   * (newBranch()). ACK is never sent in a transaction (§17.1.1.3: the ACK for a 2xx is the TU's).
   */
  sendRequest(req: SipRequest, target: SendTarget, handlers: ClientTransactionHandlers): ClientTransaction {
    if (req.method === 'ACK') throw new Error('sendRequest: ACK is not sent in a transaction');
    const branch = topViaOf(req)?.params.get('branch');
    if (!branch) throw new Error('sendRequest: request needs a top Via with a branch');
    if (!req.cseq) throw new Error('sendRequest: request needs a valid CSeq');
    const key = clientKey(branch, req.method);
    if (this.clients.has(key)) throw new Error(`sendRequest: a client transaction already uses branch ${branch}`);
    const terminated = () => {
      if (this.clients.get(key) === tx) this.clients.delete(key);
    };
    const tx: ClientTx =
      req.method === 'INVITE'
        ? new ClientInviteTransaction(req, target, handlers, this.ctx, {
            terminated,
            startCancel: (cancel, cancelTarget) => this.startCancel(cancel, cancelTarget),
          })
        : new ClientNonInviteTransaction(req, target, handlers, this.ctx, { terminated });
    this.clients.set(key, tx);
    tx.start();
    return tx;
  }

  /** Cancel every timer and forget every transaction, without telling the TU. */
  stop(): void {
    for (const tx of this.clients.values()) tx.dispose();
    for (const tx of this.servers.values()) tx.dispose();
    for (const list of this.legacyServers.values()) for (const entry of list) entry.tx.dispose();
    this.clients.clear();
    this.servers.clear();
    this.legacyServers.clear();
    this.legacyCount = 0;
  }

  // §17.2.3: branch + sent-by + method (ACK → INVITE); CANCEL finds its INVITE by the same branch.
  private matchRfc3261(req: SipRequest, key: string, branch: string, sentBy: string, admit: Admission | undefined): RequestDisposition {
    const existing = this.servers.get(key);
    switch (req.method) {
      case 'ACK':
        if (existing instanceof ServerInviteTransaction && existing.receiveAck() === 'absorbed') return ABSORBED;
        return { kind: 'ack', req };
      case 'CANCEL': {
        if (existing) return this.retransmission(existing);
        const invite = this.servers.get(serverKey(branch, sentBy, 'INVITE'));
        const refusal = admit?.(req, invite !== undefined);
        if (refusal) return { kind: 'refused', refusal };
        const tx = this.addServer(req, key);
        return invite ? { kind: 'cancel', tx, invite } : { kind: 'cancel', tx };
      }
      default: {
        if (existing) return this.retransmission(existing);
        const refusal = admit?.(req, false);
        if (refusal) return { kind: 'refused', refusal };
        return { kind: 'new', tx: this.addServer(req, key) };
      }
    }
  }

  /**
   * §17.2.3 RFC 2543 fallback: Request-URI, From tag, Call-ID, CSeq number and top Via (the
   * key), then: INVITE and other methods — same method and same To tag as the creating
   * request; ACK — the To tag of the response the INVITE transaction sent; CANCEL (§9.2) —
   * the INVITE with the same To tag.
   */
  private matchLegacy(req: SipRequest, key: string, admit: Admission | undefined): RequestDisposition {
    const list = this.legacyServers.get(key);
    const toTag = req.toTag ?? '';
    const find = (method: string): ServerTx | undefined => list?.find((e) => e.method === method && e.toTag === toTag)?.tx;
    switch (req.method) {
      case 'ACK': {
        const invite = list?.find((e) => e.tx instanceof ServerInviteTransaction && (e.tx.responseToTag ?? '') === toTag)?.tx;
        if (invite instanceof ServerInviteTransaction && invite.receiveAck() === 'absorbed') return ABSORBED;
        return { kind: 'ack', req };
      }
      case 'CANCEL': {
        const existing = find('CANCEL');
        if (existing) return this.retransmission(existing);
        const invite = find('INVITE');
        const refusal = admit?.(req, invite !== undefined);
        if (refusal) return { kind: 'refused', refusal };
        const tx = this.addLegacy(req, key, toTag);
        return invite ? { kind: 'cancel', tx, invite } : { kind: 'cancel', tx };
      }
      default: {
        const existing = find(req.method);
        if (existing) return this.retransmission(existing);
        const refusal = admit?.(req, false);
        if (refusal) return { kind: 'refused', refusal };
        return { kind: 'new', tx: this.addLegacy(req, key, toTag) };
      }
    }
  }

  /**
   * A new server transaction under `key`. The key is built from slices of the request's text and is
   * held as long as the transaction (64*T1 after the final response over UDP), so it is copied.
   */
  private addServer(req: SipRequest, key: string): ServerTx {
    const owned = ownString(key);
    const tx = this.createServer(req, (t) => this.removeServer(owned, t));
    this.servers.set(owned, tx);
    return tx;
  }

  private addLegacy(req: SipRequest, key: string, toTag: string): ServerTx {
    const owned = ownString(key);
    const tx = this.createServer(req, (t) => this.removeLegacy(owned, t));
    const entry: LegacyEntry = { tx, method: req.method, toTag: ownString(toTag) };
    const list = this.legacyServers.get(owned);
    if (list) list.push(entry);
    else this.legacyServers.set(owned, [entry]);
    this.legacyCount++;
    return tx;
  }

  private createServer(req: SipRequest, remove: (tx: ServerTx) => void): ServerTx {
    const target = responseTarget(req);
    let tx: ServerTx;
    const terminated = () => remove(tx);
    tx = req.method === 'INVITE' ? new ServerInviteTransaction(req, target, this.ctx, terminated) : new ServerNonInviteTransaction(req, target, this.ctx, terminated);
    return tx;
  }

  private retransmission(tx: ServerTx): RequestDisposition {
    tx.receiveRetransmission();
    return ABSORBED;
  }

  private removeServer(key: string, tx: ServerTx): void {
    if (this.servers.get(key) === tx) this.servers.delete(key);
  }

  private removeLegacy(key: string, tx: ServerTx): void {
    const list = this.legacyServers.get(key);
    if (!list) return;
    const idx = list.findIndex((e) => e.tx === tx);
    if (idx < 0) return;
    list.splice(idx, 1);
    this.legacyCount--;
    if (list.length === 0) this.legacyServers.delete(key);
  }

  /** §9.1: a CANCEL is a non-INVITE client transaction of its own; the INVITE's outcome is what matters. */
  private startCancel(cancel: SipRequest, target: SendTarget): void {
    try {
      this.sendRequest(cancel, target, NO_HANDLERS);
    } catch (err) {
      this.logger?.error({ err, callId: cancel.callId }, 'could not start CANCEL transaction');
    }
  }

  private debug(msg: string, fields: Record<string, unknown>): void {
    if (this.logger?.isLevelEnabled('debug')) this.logger.debug(fields, msg);
  }
}
