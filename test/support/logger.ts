// A pino logger for tests that keeps every line it writes, parsed, so a test can assert on log events.
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface CapturedLogger {
  logger: Logger;
  /** Every line written so far, parsed from JSON, in order. */
  lines: Array<Record<string, unknown>>;
}

export function captureLogger(level = 'info'): CapturedLogger {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: pino({ level }, sink), lines };
}
