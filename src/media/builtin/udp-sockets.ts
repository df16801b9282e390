// The media worker's UDP sockets: bound exclusively to one port (false when it is taken), closed without
// caring whether they were bound, and a name lookup that answers at once for the IP literals the relay
// sends to. Split from relay.ts.
import type { Socket } from 'node:dgram';

/**
 * Every address the relay sends to is an IP literal (checked in configure, or a packet's source), so the
 * socket's name lookup can answer at once: dgram's default (dns.lookup) defers each send by a tick.
 */
export function literalLookup(address: string, family: number, callback: (err: Error | null, address: string, family: number) => void): void {
  callback(null, address, family);
}

export function bindSocket(socket: Socket, port: number, address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const onError = (): void => resolve(false);
    socket.once('error', onError);
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(true);
    });
  });
}

export function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      // Already closed (or never bound).
      resolve();
    }
  });
}
