import { describe, expect, it } from 'vitest';
import { DEFAULT_CODES, validateCodes } from '../../../src/rules/code-config.js';
import type { InCallCodes } from '../../../src/rules/code-config.js';

function withCodes(over: Partial<InCallCodes>): InCallCodes {
  return { ...DEFAULT_CODES, ...over };
}

describe('DEFAULT_CODES', () => {
  it('are the SPEC F-CODES defaults', () => {
    expect(DEFAULT_CODES).toEqual({ park: '#72', blindTransfer: '#8', attendedTransfer: '#9', dialConfirm: '#', dtmfSend: '*#', record: '*1' });
  });

  it('validate cleanly, although dialConfirm # is a prefix of #72, #8 and #9 (different context)', () => {
    expect(validateCodes(DEFAULT_CODES)).toEqual({ errors: [], warnings: [] });
  });
});

describe('validateCodes: formats', () => {
  it('accepts 1–4 characters of 0-9*# for park and transfer codes', () => {
    const r = validateCodes(withCodes({ park: '*0*1', blindTransfer: '##1', attendedTransfer: '55' }));
    expect(r.errors).toEqual([]);
  });

  it.each([
    ['park', '#7201'],
    ['park', 'A1'],
    ['blindTransfer', '#8 '],
    ['attendedTransfer', '12345'],
  ] as const)('rejects %s code %j', (key, code) => {
    const r = validateCodes(withCodes({ [key]: code }));
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]?.key).toBe(key);
    expect(r.errors[0]?.message).toContain(JSON.stringify(code));
    expect(r.errors[0]?.message).toContain(key);
  });

  it('rejects empty codes by name', () => {
    const r = validateCodes(withCodes({ park: '', dtmfSend: '' }));
    expect(r.errors.map((e) => e.key).sort()).toEqual(['dtmfSend', 'park']);
    for (const e of r.errors) expect(e.message).toMatch(/must not be empty/);
  });

  it('warns, but does not fail, on a 1-character park/transfer code', () => {
    const r = validateCodes(withCodes({ blindTransfer: '5' }));
    expect(r.errors).toEqual([]);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]?.key).toBe('blindTransfer');
    expect(r.warnings[0]?.message).toContain('"5"');
  });

  it('does not warn at 2 characters', () => {
    expect(validateCodes(withCodes({ blindTransfer: '#1' })).warnings).toEqual([]);
  });

  it('accepts dial-confirm and DTMF-send of 1–3 characters starting with * or #', () => {
    for (const code of ['*', '#', '*#', '##9', '#0*']) {
      expect(validateCodes(withCodes({ dialConfirm: code })).errors).toEqual([]);
    }
    expect(validateCodes(withCodes({ dtmfSend: '*9' })).errors).toEqual([]);
  });

  it.each([
    ['dialConfirm', '1'],
    ['dialConfirm', '#123'],
    ['dialConfirm', '#x'],
    ['dtmfSend', '9#'],
    ['dtmfSend', '*###'],
  ] as const)('rejects %s %j', (key, code) => {
    const r = validateCodes(withCodes({ [key]: code }));
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]?.key).toBe(key);
    expect(r.errors[0]?.message).toMatch(/starting with \* or #/);
  });
});

describe('validateCodes: prefix-freeness', () => {
  it('rejects park #7 with blind transfer #71, naming both keys and codes', () => {
    const r = validateCodes(withCodes({ park: '#7', blindTransfer: '#71' }));
    expect(r.errors).toHaveLength(1);
    const e = r.errors[0];
    expect(e?.key).toBe('blindTransfer');
    expect(e?.conflictsWith).toBe('park');
    expect(e?.message).toContain('park code "#7"');
    expect(e?.message).toContain('blindTransfer code "#71"');
    expect(e?.message).toMatch(/prefix/);
  });

  it('SPEC decision: park #7 is fine on its own, but not alongside #72 as another code', () => {
    expect(validateCodes(withCodes({ park: '#7' })).errors).toEqual([]);
    const r = validateCodes(withCodes({ park: '#7', attendedTransfer: '#72' }));
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]?.message).toContain('park code "#7"');
    expect(r.errors[0]?.message).toContain('attendedTransfer code "#72"');
  });

  it('rejects identical codes, naming both', () => {
    const r = validateCodes(withCodes({ blindTransfer: '#9', attendedTransfer: '#9' }));
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]?.message).toContain('blindTransfer code "#9"');
    expect(r.errors[0]?.message).toContain('attendedTransfer code "#9"');
    expect(r.errors[0]?.message).toMatch(/identical/);
  });

  it('checks dtmfSend against the action codes, whichever is the longer', () => {
    const r = validateCodes(withCodes({ dtmfSend: '#', park: '#72' }));
    // '#' is a prefix of park, blindTransfer and attendedTransfer.
    expect(r.errors.map((e) => [e.conflictsWith, e.key])).toEqual([
      ['park', 'dtmfSend'],
      ['blindTransfer', 'dtmfSend'],
      ['attendedTransfer', 'dtmfSend'],
    ]);
    for (const e of r.errors) expect(e.message).toContain('dtmfSend code "#"');
  });

  it('does not check dialConfirm against the other codes', () => {
    expect(validateCodes(withCodes({ dialConfirm: '#8' })).errors).toEqual([]);
    expect(validateCodes(withCodes({ dialConfirm: '*#' })).errors).toEqual([]);
  });

  it('reports every overlapping pair', () => {
    const r = validateCodes(withCodes({ park: '#1', blindTransfer: '#12', attendedTransfer: '#123' }));
    expect(r.errors.map((e) => [e.conflictsWith, e.key])).toEqual([
      ['park', 'blindTransfer'],
      ['park', 'attendedTransfer'],
      ['blindTransfer', 'attendedTransfer'],
    ]);
  });

  it('skips the overlap check for malformed codes instead of piling errors on them', () => {
    const r = validateCodes(withCodes({ park: '' }));
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]?.key).toBe('park');
  });
});

describe('validateCodes: the record code (issue #15)', () => {
  it('must be prefix-free with the other in-call codes', () => {
    const overlapsTransfer = validateCodes(withCodes({ record: '#81' }));
    expect(overlapsTransfer.errors).toEqual([expect.objectContaining({ key: 'record', conflictsWith: 'blindTransfer' })]);
    const overlapsSend = validateCodes(withCodes({ record: '*' }));
    expect(overlapsSend.errors).toEqual([expect.objectContaining({ key: 'record', conflictsWith: 'dtmfSend' })]);
    expect(validateCodes(withCodes({ record: '*2' })).errors).toEqual([]);
  });

  it('is 1–4 characters of 0-9, * and #', () => {
    expect(validateCodes(withCodes({ record: '*1A' })).errors).toEqual([expect.objectContaining({ key: 'record' })]);
    expect(validateCodes(withCodes({ record: '' })).errors).toEqual([expect.objectContaining({ key: 'record' })]);
  });
});
