import { describe, expect, it } from 'vitest';
import { DEFAULT_CODES } from '../../../src/rules/code-config.js';
import type { InCallCodes } from '../../../src/rules/code-config.js';
import { FeatureCodeMatcher, TargetCollector } from '../../../src/pbx/keypad.js';
import type { CodeAction, TargetCancelReason } from '../../../src/pbx/keypad.js';
import { FakeClock } from '../../support/fake-clock.js';

interface Harness {
  clock: FakeClock;
  matcher: FeatureCodeMatcher;
  /** Everything the matcher said, in order: forwarded digits as `fwd:<digits>`, codes as `code:<action>`. */
  log: string[];
  forwarded(): string;
  codes(): CodeAction[];
  type(digits: string): void;
}

function harness(opts: { suppress: boolean; codes?: InCallCodes; timeoutMs?: number }): Harness {
  const clock = new FakeClock();
  const log: string[] = [];
  const matcher = new FeatureCodeMatcher({
    codes: opts.codes ?? DEFAULT_CODES,
    suppress: opts.suppress,
    featureDigitTimeoutMs: opts.timeoutMs ?? 1000,
    clock,
    events: {
      onForward: (d) => log.push(`fwd:${d}`),
      onCode: (a) => log.push(`code:${a}`),
    },
  });
  return {
    clock,
    matcher,
    log,
    forwarded: () =>
      log
        .filter((l) => l.startsWith('fwd:'))
        .map((l) => l.slice(4))
        .join(''),
    codes: () => log.filter((l) => l.startsWith('code:')).map((l) => l.slice(5) as CodeAction),
    type: (digits) => {
      for (const d of digits) matcher.digit(d);
    },
  };
}

describe('FeatureCodeMatcher, suppression on (default)', () => {
  it('SPEC example: #72 then 1234 parks and forwards nothing', () => {
    const h = harness({ suppress: true });
    h.type('#72');
    h.type('1234');
    h.clock.runAll();
    expect(h.codes()).toEqual(['park']);
    expect(h.forwarded()).toBe('');
    expect(h.log).toEqual(['code:park']);
  });

  it('recognises each default code', () => {
    for (const [digits, action] of [
      ['#72', 'park'],
      ['#8', 'blindTransfer'],
      ['#9', 'attendedTransfer'],
      ['*#', 'dtmfSend'],
    ] as const) {
      const h = harness({ suppress: true });
      h.type(digits);
      expect(h.log).toEqual([`code:${action}`]);
      expect(h.clock.pending).toBe(0);
    }
  });

  it('#7 then timeout: the partial code is dropped', () => {
    const h = harness({ suppress: true });
    h.type('#7');
    expect(h.matcher.pending).toBe('#7');
    h.clock.advance(1000);
    expect(h.log).toEqual([]);
    expect(h.matcher.pending).toBe('');
    // Matching starts afresh: the 2 is not taken as the end of #72.
    h.type('2');
    h.type('#8');
    expect(h.log).toEqual(['code:blindTransfer']);
  });

  it('each digit restarts the feature-digit timer', () => {
    const h = harness({ suppress: true });
    h.type('#');
    h.clock.advance(900);
    h.type('7');
    h.clock.advance(900);
    h.type('2');
    expect(h.log).toEqual(['code:park']);
  });

  it('a gap longer than featureDigitTimeout breaks a code', () => {
    const h = harness({ suppress: true });
    h.type('#7');
    h.clock.advance(1001);
    h.type('2');
    expect(h.log).toEqual([]);
  });

  it('honours a configured featureDigitTimeout', () => {
    const h = harness({ suppress: true, timeoutMs: 3000 });
    h.type('#');
    h.clock.advance(2500);
    h.type('8');
    expect(h.log).toEqual(['code:blindTransfer']);
  });

  it('a mismatch (#1) drops the digits and matches on', () => {
    const h = harness({ suppress: true });
    h.type('#1');
    expect(h.matcher.pending).toBe('');
    expect(h.clock.pending).toBe(0);
    h.type('#9');
    expect(h.log).toEqual(['code:attendedTransfer']);
  });

  it('after the DTMF-send code, later digits are forwarded at once', () => {
    const h = harness({ suppress: true });
    h.type('12');
    h.type('*#');
    expect(h.matcher.dtmfSendActive).toBe(true);
    h.matcher.digit('5');
    expect(h.log).toEqual(['code:dtmfSend', 'fwd:5']);
  });

  it('after DTMF-send, codes still work and their digits are still not forwarded', () => {
    const h = harness({ suppress: true });
    h.type('*#');
    h.type('12');
    h.type('#8');
    expect(h.log).toEqual(['code:dtmfSend', 'fwd:1', 'fwd:2', 'code:blindTransfer']);
  });

  it('after DTMF-send, a partial code is held and replayed on timeout as with suppression off', () => {
    const h = harness({ suppress: true });
    h.type('*#');
    h.type('#7');
    expect(h.log).toEqual(['code:dtmfSend']);
    h.clock.advance(1000);
    expect(h.log).toEqual(['code:dtmfSend', 'fwd:#7']);
  });

  it('the DTMF-send code digits themselves are never forwarded', () => {
    const h = harness({ suppress: true });
    h.type('*#*#');
    expect(h.forwarded()).toBe('');
    expect(h.codes()).toEqual(['dtmfSend', 'dtmfSend']);
  });
});

describe('FeatureCodeMatcher, suppression off', () => {
  it('SPEC example: 12 is forwarded in order, #72 is not', () => {
    const h = harness({ suppress: false });
    h.type('1');
    h.type('#72');
    h.type('2');
    expect(h.log).toEqual(['fwd:1', 'code:park', 'fwd:2']);
  });

  it('digits that cannot start a code are forwarded at once, without a timer', () => {
    const h = harness({ suppress: false });
    h.matcher.digit('5');
    expect(h.log).toEqual(['fwd:5']);
    expect(h.clock.pending).toBe(0);
    h.matcher.digit('A');
    expect(h.log).toEqual(['fwd:5', 'fwd:A']);
  });

  it('#7 then timeout: the held digits are replayed in order', () => {
    const h = harness({ suppress: false });
    h.type('#7');
    expect(h.log).toEqual([]);
    h.clock.advance(999);
    expect(h.log).toEqual([]);
    h.clock.advance(1);
    expect(h.log).toEqual(['fwd:#7']);
    expect(h.matcher.pending).toBe('');
  });

  it('#1 mismatch: #1 is forwarded at once', () => {
    const h = harness({ suppress: false });
    h.matcher.digit('#');
    expect(h.log).toEqual([]);
    h.matcher.digit('1');
    expect(h.log).toEqual(['fwd:#1']);
    expect(h.clock.pending).toBe(0);
  });

  it('a mismatching digit that can start a code is held, not forwarded (#7* …)', () => {
    const h = harness({ suppress: false });
    h.type('#7*');
    // #7 is released; * may start *# so it is held.
    expect(h.log).toEqual(['fwd:#7']);
    expect(h.matcher.pending).toBe('*');
    h.matcher.digit('#');
    expect(h.log).toEqual(['fwd:#7', 'code:dtmfSend']);
  });

  it('## forwards the first # and keeps the second as a possible code start', () => {
    const h = harness({ suppress: false });
    h.type('##');
    expect(h.log).toEqual(['fwd:#']);
    h.matcher.digit('8');
    expect(h.log).toEqual(['fwd:#', 'code:blindTransfer']);
  });

  it('restarts from the longest tail that can still start a code', () => {
    const h = harness({ suppress: false, codes: { ...DEFAULT_CODES, park: '#1#2' } });
    h.type('#1#1#2');
    expect(h.log).toEqual(['fwd:#1', 'code:park']);
  });

  it('keeps the order of forwarded and held digits across several mismatches', () => {
    const h = harness({ suppress: false });
    h.type('3#74#*5*#9');
    h.clock.runAll();
    expect(h.forwarded()).toBe('3#74#*59');
    expect(h.codes()).toEqual(['dtmfSend']);
  });

  it('a single-character code fires at once', () => {
    const h = harness({ suppress: false, codes: { ...DEFAULT_CODES, park: '0' } });
    h.type('10');
    expect(h.log).toEqual(['fwd:1', 'code:park']);
  });
});

describe('FeatureCodeMatcher lifecycle and bad input', () => {
  it('ignores anything that is not a DTMF key and accepts lower-case a–d', () => {
    const h = harness({ suppress: false });
    for (const bad of ['', 'x', '12', ' ', 'E', '\u0000']) h.matcher.digit(bad);
    expect(h.log).toEqual([]);
    h.matcher.digit('d');
    expect(h.log).toEqual(['fwd:D']);
  });

  it('non-DTMF input does not disturb a partial match', () => {
    const h = harness({ suppress: true });
    h.type('#7');
    h.matcher.digit('x');
    h.matcher.digit('2');
    expect(h.log).toEqual(['code:park']);
  });

  it('reset() drops held digits without forwarding them and cancels the timer', () => {
    const h = harness({ suppress: false });
    h.type('#7');
    h.matcher.reset();
    expect(h.clock.pending).toBe(0);
    h.clock.runAll();
    expect(h.log).toEqual([]);
    h.type('2');
    expect(h.log).toEqual(['fwd:2']);
  });

  it('reset() keeps DTMF-send active for the rest of the call', () => {
    const h = harness({ suppress: true });
    h.type('*#');
    h.matcher.reset();
    h.type('4');
    expect(h.log).toEqual(['code:dtmfSend', 'fwd:4']);
  });

  it('dispose() cancels the timer and ignores later digits', () => {
    const h = harness({ suppress: false });
    h.type('#');
    h.matcher.dispose();
    expect(h.clock.pending).toBe(0);
    h.type('#8123');
    h.clock.runAll();
    expect(h.log).toEqual([]);
  });

  it('a handler may dispose the matcher: nothing more is reported after that', () => {
    const clock = new FakeClock();
    const seen: string[] = [];
    const matcher: FeatureCodeMatcher = new FeatureCodeMatcher({
      codes: { ...DEFAULT_CODES, park: '0' },
      suppress: false,
      featureDigitTimeoutMs: 1000,
      clock,
      events: {
        onForward: (d) => {
          seen.push(`fwd:${d}`);
          matcher.dispose();
        },
        onCode: (a) => seen.push(`code:${a}`),
      },
    });
    matcher.digit('#');
    matcher.digit('0'); // releases '#' then would report park
    expect(seen).toEqual(['fwd:#']);
  });

  it('a handler that throws on the timeout does not escape the timer', () => {
    const clock = new FakeClock();
    const matcher = new FeatureCodeMatcher({
      codes: DEFAULT_CODES,
      suppress: false,
      featureDigitTimeoutMs: 1000,
      clock,
      events: {
        onForward: () => {
          throw new Error('boom');
        },
        onCode: () => {},
      },
    });
    matcher.digit('#');
    expect(() => clock.advance(1000)).not.toThrow();
    expect(matcher.pending).toBe('');
  });

  it('treats an empty code as switched off', () => {
    const h = harness({ suppress: false, codes: { ...DEFAULT_CODES, park: '' } });
    h.type('1#72');
    h.clock.runAll();
    expect(h.codes()).toEqual([]);
    expect(h.forwarded()).toBe('1#72');
  });
});

interface CollectorHarness {
  clock: FakeClock;
  collector: TargetCollector;
  log: string[];
  type(digits: string): void;
}

function collector(opts: { dialConfirm?: string; timeoutMs?: number; maxLength?: number } = {}): CollectorHarness {
  const clock = new FakeClock();
  const log: string[] = [];
  const c = new TargetCollector({
    dialConfirm: opts.dialConfirm ?? '#',
    transferDigitTimeoutMs: opts.timeoutMs ?? 4000,
    ...(opts.maxLength !== undefined ? { maxLength: opts.maxLength } : {}),
    clock,
    events: {
      onTarget: (n) => log.push(`target:${n}`),
      onCancel: (r: TargetCancelReason) => log.push(`cancel:${r}`),
    },
  });
  return {
    clock,
    collector: c,
    log,
    type: (digits) => {
      for (const d of digits) c.digit(d);
    },
  };
}

describe('TargetCollector', () => {
  it('the dial-confirm code ends entry at once', () => {
    const h = collector();
    h.type('201');
    expect(h.log).toEqual([]);
    h.type('#');
    expect(h.log).toEqual(['target:201']);
    expect(h.collector.done).toBe(true);
    expect(h.clock.pending).toBe(0);
  });

  it('4 s of silence ends entry with the digits so far', () => {
    const h = collector();
    h.type('20');
    h.clock.advance(3999);
    h.type('1');
    h.clock.advance(3999);
    expect(h.log).toEqual([]);
    h.clock.advance(1);
    expect(h.log).toEqual(['target:201']);
  });

  it('honours a configured transferDigitTimeout', () => {
    const h = collector({ timeoutMs: 2000 });
    h.type('7');
    h.clock.advance(2000);
    expect(h.log).toEqual(['target:7']);
  });

  it('nothing dialled before the timeout cancels', () => {
    const h = collector();
    h.clock.advance(4000);
    expect(h.log).toEqual(['cancel:nothingDialled']);
  });

  it('dial-confirm with nothing dialled cancels', () => {
    const h = collector();
    h.type('#');
    expect(h.log).toEqual(['cancel:nothingDialled']);
  });

  it('reports exactly once and ignores later digits', () => {
    const h = collector();
    h.type('12#34#');
    h.clock.runAll();
    expect(h.log).toEqual(['target:12']);
  });

  it('a multi-character confirm code: held digits that do not complete it join the number', () => {
    const h = collector({ dialConfirm: '*#' });
    h.type('1*2');
    expect(h.collector.digits).toBe('1*2');
    h.type('**#');
    expect(h.log).toEqual(['target:1*2*']);
  });

  it('a partial multi-character confirm code joins the number on timeout', () => {
    const h = collector({ dialConfirm: '##' });
    h.type('12#');
    expect(h.collector.digits).toBe('12');
    h.clock.advance(4000);
    expect(h.log).toEqual(['target:12#']);
  });

  it('* is part of the number when the confirm code is #', () => {
    const h = collector();
    h.type('*8#');
    expect(h.log).toEqual(['target:*8']);
  });

  it('accepts 32 digits and cancels at the 33rd', () => {
    const ok = collector();
    const n32 = '1'.repeat(32);
    ok.type(n32 + '#');
    expect(ok.log).toEqual([`target:${n32}`]);

    const tooLong = collector();
    tooLong.type(n32);
    expect(tooLong.log).toEqual([]);
    tooLong.type('2');
    expect(tooLong.log).toEqual(['cancel:tooLong']);
    expect(tooLong.clock.pending).toBe(0);
  });

  it('honours maxLength', () => {
    const h = collector({ maxLength: 3 });
    h.type('1234');
    expect(h.log).toEqual(['cancel:tooLong']);
  });

  it('ignores non-dialable input', () => {
    const h = collector();
    for (const bad of ['A', 'x', '', '12']) h.collector.digit(bad);
    h.type('5#');
    expect(h.log).toEqual(['target:5']);
  });

  it('dispose() raises nothing and stops the timer', () => {
    const h = collector();
    h.type('12');
    h.collector.dispose();
    h.clock.runAll();
    h.type('#');
    expect(h.log).toEqual([]);
    expect(h.clock.pending).toBe(0);
  });
});
