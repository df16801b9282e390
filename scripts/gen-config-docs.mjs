// Writes docs/configuration.md from the compiled schema (run `npm run build` first).
import { writeFileSync } from 'node:fs';
import { renderConfigDocs } from '../dist/config/docs.js';

const target = new URL('../docs/configuration.md', import.meta.url);
writeFileSync(target, renderConfigDocs());
process.stdout.write(`wrote ${target.pathname}\n`);
