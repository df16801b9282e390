// Where the media worker's code is, and a check that the build is not older than its sources.
import { readdir, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { MediaError } from '../engine.js';

/**
 * Where the worker's code is. Compiled, it is the sibling worker.js. When this module runs from its
 * TypeScript source (vitest), the worker cannot: a worker thread is a plain Node isolate that vitest's
 * transform does not reach, and Node 20 has no TypeScript stripping. So the compiled worker in dist/ is used;
 * `npm run build` must have run (npm test's pretest does), and checkBuild() refuses a build older than the
 * sources rather than run stale code.
 */
export function workerLocation(): { url: URL; fromSource: boolean } {
  const here = new URL(import.meta.url);
  if (here.pathname.endsWith('.ts')) return { url: new URL('../../../dist/media/builtin/worker.js', here), fromSource: true };
  return { url: new URL('./worker.js', here), fromSource: false };
}

export async function checkBuild(workerUrl: URL): Promise<void> {
  const srcDir = fileURLToPath(new URL('.', import.meta.url));
  const distDir = fileURLToPath(new URL('.', workerUrl));
  const sources = [...(await readdir(srcDir)).filter((f) => f.endsWith('.ts')).map((f) => srcDir + f), fileURLToPath(new URL('../engine.ts', import.meta.url))];
  for (const src of sources) {
    const built = src.startsWith(srcDir) ? distDir + src.slice(srcDir.length).replace(/\.ts$/, '.js') : fileURLToPath(new URL('../engine.js', workerUrl));
    const [s, b] = await Promise.all([stat(src), stat(built).catch(() => null)]);
    if (!b || b.mtimeMs < s.mtimeMs) throw new MediaError(`media worker build is missing or older than ${src}: run \`npm run build\``, 500);
  }
}
