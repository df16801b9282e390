// Logging for transactions: debug-only on the hot path, and a guard around TU callbacks.
import type { Logger } from 'pino';

/** Debug logging bound to one transaction; the pino child is only made when debug is on. */
export class TransactionLog {
  private child: Logger | undefined;

  constructor(
    private readonly base: Logger | undefined,
    private readonly callId: string,
    private readonly kind: string,
  ) {}

  debug(msg: string, fields?: Record<string, unknown>): void {
    const base = this.base;
    if (!base || !base.isLevelEnabled('debug')) return;
    this.child ??= base.child({ callId: this.callId, tx: this.kind });
    if (fields) this.child.debug(fields, msg);
    else this.child.debug(msg);
  }

  /** A TU callback threw: log it and carry on, so one bad handler cannot wedge the machine. */
  handlerFailed(err: unknown, handler: string): void {
    this.base?.error({ err, callId: this.callId, tx: this.kind, handler }, 'transaction user handler threw');
  }
}

/** Call a TU callback without letting its exception escape into a timer or network callback. */
export function notify(log: TransactionLog, handler: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    log.handlerFailed(err, handler);
  }
}
