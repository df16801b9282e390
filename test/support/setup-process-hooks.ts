// Every test file runs with this (vitest.config.ts setupFiles): an unhandled promise rejection or an
// uncaught exception anywhere in the process — the server under test included — fails the test during
// which it surfaced, so a handler that forgets its rejection path cannot slip back in.
//
// Why not rely on vitest alone: vitest 4 reports such errors only as "unhandled errors" of the whole run,
// not against a test, and it stays silent about them as soon as any other process listener exists
// (it assumes user code handles them). So these listeners record the errors and the hooks below throw
// them; once a file is done they are removed again, and vitest's own reporting (which fails the run)
// covers anything that surfaces after the file's last hook.
import { afterAll, afterEach } from 'vitest';

type ProcessFault = { kind: 'unhandledRejection' | 'uncaughtException'; error: unknown };

const faults: ProcessFault[] = [];
const onRejection = (reason: unknown): void => {
  faults.push({ kind: 'unhandledRejection', error: reason });
};
const onException = (err: unknown): void => {
  faults.push({ kind: 'uncaughtException', error: err });
};

process.on('unhandledRejection', onRejection);
process.on('uncaughtException', onException);

/** One macrotask: a rejection is reported only after the microtasks of the turn that caused it. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function describeFault(f: ProcessFault): string {
  const e = f.error;
  const text = e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
  return `${f.kind}: ${text}`;
}

async function failOnFaults(where: string): Promise<void> {
  await settle();
  if (faults.length === 0) return;
  const found = faults.splice(0);
  const error = new Error(`${found.length} unhandled error(s) ${where}:\n${found.map(describeFault).join('\n')}`);
  (error as Error & { cause?: unknown }).cause = found[0]?.error;
  throw error;
}

// Registered before any hook of the test file, so with vitest's default stacked hook order these run
// after the file's own clean-up (servers stopped, phones closed): errors raised by clean-up count too.
afterEach(async (ctx) => {
  await failOnFaults(`during "${ctx.task.name}"`);
});

afterAll(async () => {
  try {
    await failOnFaults('after the last test of this file');
  } finally {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  }
});
