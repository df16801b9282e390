// Heap size without garbage in it, for the tests that check a run leaves nothing behind. Vitest's
// forks do not run with --expose-gc: the flag is turned on here and gc() taken from a new context.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | undefined;

/** heapUsed after two full collections (the first can leave objects whose finalizers free more). */
export function heapAfterGc(): number {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
