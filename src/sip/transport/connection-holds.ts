// Holds on connections kept by what needs them — a binding, a dialog, a transaction — so that
// the owner only says "this key now uses that connection" or "this key is gone", and a key that
// moves to another connection (a phone that reconnected) lets go of the old one.

import type { ConnectionHold, HoldReason } from './types.js';

export interface Retainer {
  retain(connectionId: string | undefined, reason: HoldReason): ConnectionHold;
}

export class ConnectionHolds<K> {
  private readonly held = new Map<K, { connectionId: string; hold: ConnectionHold }>();

  constructor(
    private readonly transport: Retainer,
    private readonly reason: HoldReason,
  ) {}

  get size(): number {
    return this.held.size;
  }

  /** key uses connectionId from now on (undefined: no connection, e.g. UDP). */
  set(key: K, connectionId: string | undefined): void {
    const current = this.held.get(key);
    if (current?.connectionId === connectionId) return;
    current?.hold.release();
    if (connectionId === undefined) {
      this.held.delete(key);
      return;
    }
    this.held.set(key, { connectionId, hold: this.transport.retain(connectionId, this.reason) });
  }

  delete(key: K): void {
    this.held.get(key)?.hold.release();
    this.held.delete(key);
  }

  clear(): void {
    for (const { hold } of this.held.values()) hold.release();
    this.held.clear();
  }
}
