// docs/configuration.md must be the schema's current rendering (regenerate with `npm run docs:config`).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderConfigDocs } from '../../../src/config/docs.js';

describe('configuration reference', () => {
  it('is up to date with the schema', () => {
    const onDisk = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    expect(onDisk).toBe(renderConfigDocs());
  });

  it('documents every timer and limit with its default', () => {
    const doc = renderConfigDocs();
    for (const row of ['`registrar.minExpires` | integer | `60`', '`auth.lockoutAttempts` | integer | `3`', '`sip.t1` | integer | `500`']) {
      expect(doc).toContain(row);
    }
  });
});
