// The native UDP addon (native/udp-batch, compiled by `npm ci`): loaded once per thread, null when it is
// not built (another platform, a failed build) so the relay falls back to node:dgram. Also the shapes of the
// tables the addon shares with JS (see udp_batch.cc).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { constants } from 'node:os';

/** Opaque handle of one poller (an epoll set watched on this thread's loop). */
export type PollerHandle = { readonly __poller: unique symbol };

export interface UdpBatchAddon {
  createPoller(recv: ArrayBuffer, slotSize: number, meta: ArrayBuffer, sends: ArrayBuffer, onBatch: (count: number) => void): PollerHandle;
  closePoller(poller: PollerHandle): void;
  /** Throws an Error whose `code` is the errno name (EADDRINUSE, EACCES, EADDRNOTAVAIL, EINVAL…). */
  open(poller: PollerHandle, address: string, port: number, report: boolean): number;
  close(poller: PollerHandle, fd: number): void;
  /** 0 or -errno; address null disconnects. */
  connect(poller: PollerHandle, fd: number, address: string | null, port: number): number;
  /** 0 or -errno; address null sends on the connected socket. */
  send(poller: PollerHandle, fd: number, data: Uint8Array, length: number, address: string | null, port: number): number;
  /** Sends the first `count` rows of the send table; returns how many failed (their 4th word is -errno). */
  flush(poller: PollerHandle, count: number): number;
  address(poller: PollerHandle, index: number): string;
  counters(poller: PollerHandle): [sendDrops: number, truncated: number];
}

/** Descriptor table: Uint32 words per received datagram (fd, offset, length, port | IPV6_FLAG, address ×4). */
export const META_WORDS = 8;
export const IPV6_FLAG = 0x10000;
/** Send table: Int32 words per queued send (fd, offset, length, result). */
export const SEND_WORDS = 4;

/** Where `npm ci` (node-gyp) puts the addon; the same relative path from src/ and from dist/. */
export const ADDON_PATH = fileURLToPath(new URL('../../../native/udp-batch/build/Release/udp_batch.node', import.meta.url));

let loaded: { addon: UdpBatchAddon | null; error: string | null } | undefined;

/** The addon, or null with the reason it could not be loaded. */
export function loadUdpBatch(): { addon: UdpBatchAddon | null; error: string | null } {
  if (loaded === undefined) {
    try {
      loaded = { addon: createRequire(import.meta.url)(ADDON_PATH) as UdpBatchAddon, error: null };
    } catch (err) {
      loaded = { addon: null, error: (err as Error).message.split('\n')[0] ?? String(err) };
    }
  }
  return loaded;
}

const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** errno (positive) → its name (ECONNREFUSED…), for what a send or connect reports. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}
