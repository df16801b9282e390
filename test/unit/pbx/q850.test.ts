import { describe, expect, it } from 'vitest';
import { formatReason, isQ850Cause, parseReasonHeader, q850Text, q850ToSip, sipToQ850 } from '../../../src/pbx/q850.js';

// RFC 3398 §7.2.4.1, every row that gives a cause.
const rfcSipToCause: [number, number][] = [
  [400, 41],
  [401, 21],
  [402, 21],
  [403, 21],
  [404, 1],
  [405, 63],
  [406, 79],
  [407, 21],
  [408, 102],
  [410, 22],
  [413, 127],
  [414, 127],
  [415, 79],
  [416, 127],
  [420, 127],
  [421, 127],
  [423, 127],
  [480, 18],
  [481, 41],
  [482, 25],
  [483, 25],
  [484, 28],
  [485, 1],
  [486, 17],
  [500, 41],
  [501, 79],
  [502, 38],
  [503, 41],
  [504, 102],
  [505, 127],
  [513, 127],
  [600, 17],
  [603, 21],
  [604, 1],
];

// RFC 3398 §8.2.6.1, every row that gives a status (22 "without diagnostic"; 29 is the RFC's "510 Not
// implemented", i.e. 501).
const rfcCauseToSip: [number, number][] = [
  [1, 404],
  [2, 404],
  [3, 404],
  [17, 486],
  [18, 408],
  [19, 480],
  [20, 480],
  [21, 403],
  [22, 410],
  [23, 410],
  [26, 404],
  [27, 502],
  [28, 484],
  [29, 501],
  [31, 480],
  [34, 503],
  [38, 503],
  [41, 503],
  [42, 503],
  [47, 503],
  [55, 403],
  [57, 403],
  [58, 503],
  [65, 488],
  [70, 488],
  [79, 501],
  [87, 403],
  [88, 503],
  [102, 504],
  [111, 500],
  [127, 500],
];

describe('sipToQ850 (RFC 3398 §7.2.4.1)', () => {
  it.each(rfcSipToCause)('maps %i to cause %i', (status, cause) => {
    expect(sipToQ850(status)).toBe(cause);
  });

  it('applies the project decisions for the rows the RFC leaves open', () => {
    expect(sipToQ850(487)).toBe(16);
    expect(sipToQ850(488)).toBe(65);
    expect(sipToQ850(606)).toBe(65);
    expect(sipToQ850(607)).toBe(21);
    expect(sipToQ850(608)).toBe(21);
  });

  it('treats an unlisted status as the x00 of its class (RFC 3261 §8.1.3.2)', () => {
    expect(sipToQ850(409)).toBe(41);
    expect(sipToQ850(499)).toBe(41);
    expect(sipToQ850(580)).toBe(41);
    expect(sipToQ850(699)).toBe(17);
  });

  it('maps success, redirection and nonsense', () => {
    expect(sipToQ850(200)).toBe(16);
    expect(sipToQ850(302)).toBe(23);
    expect(sipToQ850(99)).toBe(127);
    expect(sipToQ850(700)).toBe(127);
    expect(sipToQ850(486.5)).toBe(127);
    expect(sipToQ850(Number.NaN)).toBe(127);
  });
});

describe('q850ToSip (RFC 3398 §8.2.6.1)', () => {
  it.each(rfcCauseToSip)('maps cause %i to %i', (cause, status) => {
    expect(q850ToSip(cause)).toBe(status);
  });

  it('gives the SPEC F-CDR causes the statuses issue #3 expects', () => {
    expect(q850ToSip(17)).toBe(486); // busy
    expect(q850ToSip(19)).toBe(480); // ring timeout
    expect(q850ToSip(20)).toBe(480); // not registered
    expect(q850ToSip(34)).toBe(503); // channel limit
    expect(q850ToSip(41)).toBe(503); // temporary failure
    expect(q850ToSip(1)).toBe(404);
  });

  it('maps an unlisted cause through the unspecified cause of its class', () => {
    expect(q850ToSip(16)).toBe(480);
    expect(q850ToSip(6)).toBe(480);
    expect(q850ToSip(44)).toBe(503); // → 47
    expect(q850ToSip(50)).toBe(503); // → 63
    expect(q850ToSip(66)).toBe(501); // → 79
    expect(q850ToSip(81)).toBe(500); // → 95
    expect(q850ToSip(96)).toBe(500); // → 111
    expect(q850ToSip(120)).toBe(500); // → 127
  });

  it('answers 500 for a value that is not a cause', () => {
    expect(q850ToSip(0)).toBe(500);
    expect(q850ToSip(128)).toBe(500);
    expect(q850ToSip(-1)).toBe(500);
    expect(q850ToSip(16.5)).toBe(500);
  });

  it('round-trips the statuses whose cause maps back to them', () => {
    for (const status of [404, 484, 486, 488, 504]) expect(q850ToSip(sipToQ850(status))).toBe(status);
  });
});

describe('q850Text / isQ850Cause', () => {
  it('names the causes', () => {
    expect(q850Text(16)).toBe('Normal call clearing');
    expect(q850Text(17)).toBe('User busy');
    expect(q850Text(19)).toBe('No answer from user (user alerted)');
    expect(q850Text(34)).toBe('No circuit/channel available');
    expect(q850Text(127)).toBe('Interworking, unspecified');
    expect(q850Text(10)).toBeUndefined();
    expect(q850Text(200)).toBeUndefined();
  });

  it('names every cause that either table uses', () => {
    for (const [, cause] of rfcSipToCause) expect(q850Text(cause), `cause ${cause}`).toBeTypeOf('string');
    for (const [cause] of rfcCauseToSip) expect(q850Text(cause), `cause ${cause}`).toBeTypeOf('string');
  });

  it('accepts 1–127 integers only', () => {
    expect(isQ850Cause(1)).toBe(true);
    expect(isQ850Cause(127)).toBe(true);
    expect(isQ850Cause(0)).toBe(false);
    expect(isQ850Cause(128)).toBe(false);
    expect(isQ850Cause(1.5)).toBe(false);
  });
});

describe('parseReasonHeader (RFC 3326)', () => {
  it('reads a Q.850 cause with quoted text', () => {
    expect(parseReasonHeader(['Q.850;cause=16;text="Normal call clearing"'])).toEqual({
      protocol: 'Q.850',
      cause: 16,
      text: 'Normal call clearing',
    });
  });

  it('reads a SIP cause, with LWS around the separators and any letter case', () => {
    expect(parseReasonHeader(['sip ; CAUSE = 200 ; text="Call completed elsewhere"'])).toEqual({
      protocol: 'SIP',
      cause: 200,
      text: 'Call completed elsewhere',
    });
    expect(parseReasonHeader(['q.850;cause=17'])).toEqual({ protocol: 'Q.850', cause: 17 });
  });

  it('prefers Q.850 over SIP, in one header or across headers', () => {
    expect(parseReasonHeader(['SIP;cause=487, Q.850;cause=19'])?.cause).toBe(19);
    expect(parseReasonHeader(['SIP;cause=487', 'Q.850;cause=19;text="x"'])).toEqual({ protocol: 'Q.850', cause: 19, text: 'x' });
    expect(parseReasonHeader(['SIP;cause=487', 'Q.850;cause=abc'])).toEqual({ protocol: 'SIP', cause: 487 });
  });

  it('takes the first valid value of a protocol', () => {
    expect(parseReasonHeader(['Q.850;cause=17', 'Q.850;cause=18'])?.cause).toBe(17);
    expect(parseReasonHeader(['Q.850;cause=999, Q.850;cause=18'])?.cause).toBe(18);
  });

  it('keeps commas and escaped quotes inside the text', () => {
    expect(parseReasonHeader(['Q.850;cause=21;text="rejected, \\"by policy\\""'])).toEqual({
      protocol: 'Q.850',
      cause: 21,
      text: 'rejected, "by policy"',
    });
  });

  it('ignores bad values and other protocols', () => {
    const bad = [
      'Q.850;cause=0',
      'Q.850;cause=128',
      'Q.850;cause=1.5',
      'Q.850;cause=+16',
      'Q.850;cause=',
      'Q.850;cause',
      'Q.850',
      'Q.850;text="no cause"',
      'Q.850;cause=16;text="unterminated',
      'SIP;cause=99',
      'SIP;cause=700',
      'SIP;cause=2000',
      'preemption;cause=1',
      'Q.850cause=16',
      ';cause=16',
      '',
    ];
    for (const v of bad) expect(parseReasonHeader([v]), v).toBeUndefined();
    expect(parseReasonHeader([])).toBeUndefined();
  });
});

describe('formatReason', () => {
  it('formats the cause with its Q.850 name', () => {
    expect(formatReason(16)).toBe('Q.850;cause=16;text="Normal call clearing"');
    expect(formatReason(17)).toBe('Q.850;cause=17;text="User busy"');
  });

  it('uses given text, escaped as a quoted-string', () => {
    expect(formatReason(41, 'RTP "timeout"')).toBe('Q.850;cause=41;text="RTP \\"timeout\\""');
  });

  it('omits text for a cause without a name and sends 127 for a value that is not a cause', () => {
    expect(formatReason(10)).toBe('Q.850;cause=10');
    expect(formatReason(0)).toBe('Q.850;cause=127;text="Interworking, unspecified"');
  });

  it('is read back by parseReasonHeader', () => {
    for (const cause of [1, 16, 17, 19, 20, 34, 41, 127]) {
      expect(parseReasonHeader([formatReason(cause)])).toEqual({ protocol: 'Q.850', cause, text: q850Text(cause) });
    }
  });
});
