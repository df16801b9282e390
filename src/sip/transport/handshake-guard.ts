// The hard deadline for what an inbound connection must do before it carries SIP: a TLS
// handshake, a WebSocket HTTP upgrade, or (WSS) both. It is counted from accept and is not
// reset by traffic, so a peer trickling handshake bytes is cut off like a silent one.

import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { TimerHandle } from '../../util/clock.js';
import { normalizeAddress, type FlowContext } from './connection-registry.js';
import type { TransportName } from './types.js';

export interface PendingHandshake {
  /** The peer's address, for logs. */
  readonly src: string;
  /** The handshake finished: stop the deadline. False when the socket was already closed. */
  complete(): boolean;
}

interface Tracked {
  socket: Duplex;
  timer: TimerHandle;
}

export class HandshakeGuard {
  private readonly pending = new Set<Tracked>();

  constructor(
    private readonly ctx: FlowContext,
    private readonly transport: TransportName,
  ) {}

  get logger(): Logger {
    return this.ctx.logger;
  }

  /** Starts the deadline for an accepted socket (destroying it closes whatever is layered on it). */
  begin(socket: Duplex & { remoteAddress?: string }): PendingHandshake {
    const src = normalizeAddress(socket.remoteAddress ?? '');
    const ms = this.ctx.limits.handshakeTimeoutMs;
    let done = false;
    const tracked: Tracked = {
      socket,
      timer: this.ctx.clock.setTimer(ms, () => {
        finish();
        this.ctx.logger.debug({ transport: this.transport, src }, 'handshake not completed in time');
        this.ctx.reporter.report('handshake-timeout', src, this.transport, { timeoutMs: ms });
        socket.destroy();
      }),
    };
    const finish = (): void => {
      done = true;
      tracked.timer.cancel();
      this.pending.delete(tracked);
    };
    this.pending.add(tracked);
    socket.once('close', finish);
    return {
      src,
      complete: () => {
        if (done || socket.destroyed) return false;
        finish();
        socket.off('close', finish);
        return true;
      },
    };
  }

  /** Closes every connection still in its handshake (the listener is stopping). */
  abortAll(): void {
    for (const { socket, timer } of [...this.pending]) {
      timer.cancel();
      socket.destroy();
    }
    this.pending.clear();
  }
}
