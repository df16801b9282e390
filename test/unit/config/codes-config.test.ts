// F-CODES in the YAML: in-call codes are validated by the schema with file:line errors.
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';

const base = 'tenant:\n  domain: pbx.example.com\nlisten:\n  - transport: udp\n    port: 5060\n';

describe('codes in the configuration', () => {
  it('applies the defaults', () => {
    const r = loadConfigText(base, 'hibiki.yaml');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.codes).toEqual({ park: '#72', blindTransfer: '#8', attendedTransfer: '#9', dialConfirm: '#', dtmfSend: '*#', record: '*1' });
    expect(r.config.dtmf).toEqual({ suppress: true, featureDigitTimeout: 1000, transferDigitTimeout: 4000 });
  });

  it('accepts #7 as the park code (SPEC decision)', () => {
    expect(loadConfigText(base + 'codes:\n  park: "#7"\n', 'hibiki.yaml').ok).toBe(true);
  });

  it('rejects overlapping codes naming both, at the line of the later one', () => {
    const r = loadConfigText(base + 'codes:\n  park: "#7"\n  blindTransfer: "#71"\n', 'hibiki.yaml');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const e = r.errors.find((x) => x.message.includes('#71'));
    expect(e?.line).toBe(8);
    expect(e?.message).toContain('park');
    expect(e?.message).toContain('blindTransfer');
  });

  it('rejects malformed codes', () => {
    const r = loadConfigText(base + 'codes:\n  dtmfSend: "12"\n  park: "#7A2"\n', 'hibiki.yaml');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => e.line).sort()).toEqual([7, 8]);
  });
});
