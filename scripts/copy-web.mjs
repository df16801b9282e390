// Copies the web console's static files (src/api/web) next to the compiled server (dist/api/web), run by
// `npm run build`: tsc compiles only the TypeScript, and the console must ship inside the package.
import { cpSync, rmSync } from 'node:fs';

const from = new URL('../src/api/web/', import.meta.url);
const to = new URL('../dist/api/web/', import.meta.url);
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
