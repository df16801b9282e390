import { describe, expect, it } from 'vitest';
import { buildCdr } from '../../../src/pbx/cdr.js';
import { cdrColumns, cdrFields, cdrFromRow, cdrToRow } from '../../../src/store/cdr-row.js';
import type { CallFacts } from '../../../src/pbx/cdr.js';

const T0 = Date.UTC(2024, 4, 1, 0, 30, 0, 250); // 2024-05-01T00:30:00.250Z

function facts(over: Partial<CallFacts> = {}): CallFacts {
  return {
    callId: 'a84b4c76e66710@192.0.2.10',
    startedAt: T0,
    endedAt: T0 + 30_000,
    direction: 'internal',
    callerNumber: '2001',
    callerName: '山田 太郎',
    dialedNumber: '2002',
    calleeNumber: '2002',
    hangupBy: 'caller',
    ...over,
  };
}

describe('buildCdr: the SPEC F-CDR cases', () => {
  it('callee hangs up an answered call → answered, 16, hangup_by callee', () => {
    const rec = buildCdr(facts({ answeredAt: T0 + 5_000, endedAt: T0 + 65_900, sipStatus: 200, hangupBy: 'callee', answeredBy: '2002' }));
    expect(rec).toMatchObject({
      disposition: 'answered',
      q850Cause: 16,
      hangupBy: 'callee',
      sipStatus: 200,
      answeredBy: '2002',
      duration: 65,
      billsec: 60,
      startedAt: '2024-05-01T00:30:00.250Z',
      answeredAt: '2024-05-01T00:30:05.250Z',
      endedAt: '2024-05-01T00:31:06.150Z',
    });
  });

  it('an answered call without a final status still records 200 and cause 16', () => {
    const rec = buildCdr(facts({ answeredAt: T0 + 1_000 }));
    expect(rec.sipStatus).toBe(200);
    expect(rec.q850Cause).toBe(16);
  });

  it('busy 486 → busy, 17', () => {
    const rec = buildCdr(facts({ sipStatus: 486, hangupBy: 'callee' }));
    expect(rec).toMatchObject({ disposition: 'busy', q850Cause: 17, sipStatus: 486, answeredAt: null, billsec: 0 });
  });

  it('busy everywhere 600 → busy, 17', () => {
    expect(buildCdr(facts({ sipStatus: 600 }))).toMatchObject({ disposition: 'busy', q850Cause: 17 });
  });

  it('ring timeout (hibiki cancels the callee, which answers 487) → no_answer, 19', () => {
    const rec = buildCdr(facts({ sipStatus: 487, q850Cause: 19, hangupBy: 'system', endedAt: T0 + 60_000 }));
    expect(rec).toMatchObject({ disposition: 'no_answer', q850Cause: 19, sipStatus: 487, duration: 60, billsec: 0 });
  });

  it('no response 408 → no_answer with the RFC cause 102; 480 → no_answer, 18', () => {
    expect(buildCdr(facts({ sipStatus: 408 }))).toMatchObject({ disposition: 'no_answer', q850Cause: 102 });
    expect(buildCdr(facts({ sipStatus: 480 }))).toMatchObject({ disposition: 'no_answer', q850Cause: 18 });
  });

  it('not registered: 480 with hibiki’s explicit cause 20 → the explicit cause wins, failed', () => {
    const rec = buildCdr(facts({ sipStatus: 480, q850Cause: 20, hangupBy: 'system' }));
    expect(rec).toMatchObject({ disposition: 'failed', q850Cause: 20, sipStatus: 480 });
  });

  it('caller cancels → cancelled, 16', () => {
    const rec = buildCdr(facts({ cancelled: true, sipStatus: 487, hangupBy: 'caller' }));
    expect(rec).toMatchObject({ disposition: 'cancelled', q850Cause: 16, hangupBy: 'caller' });
    // Before any callee leg got a final response.
    expect(buildCdr(facts({ cancelled: true }))).toMatchObject({ disposition: 'cancelled', q850Cause: 16, sipStatus: null });
  });

  it('a 487 with nothing else said counts as cancelled', () => {
    expect(buildCdr(facts({ sipStatus: 487 }))).toMatchObject({ disposition: 'cancelled', q850Cause: 16 });
  });

  it('unknown number 404 → failed, 1; channel limit → failed, 34; RTP timeout after answer → answered, 41', () => {
    expect(buildCdr(facts({ sipStatus: 404 }))).toMatchObject({ disposition: 'failed', q850Cause: 1 });
    expect(buildCdr(facts({ sipStatus: 503, q850Cause: 34, trunk: 'carrier' }))).toMatchObject({
      disposition: 'failed',
      q850Cause: 34,
      trunk: 'carrier',
    });
    expect(buildCdr(facts({ answeredAt: T0 + 2_000, q850Cause: 41, hangupBy: 'system', hangupReason: 'RTP timeout' }))).toMatchObject({
      disposition: 'answered',
      q850Cause: 41,
      hangupBy: 'system',
      hangupReason: 'RTP timeout',
    });
  });

  it('decline 603 → failed, 21', () => {
    expect(buildCdr(facts({ sipStatus: 603 }))).toMatchObject({ disposition: 'failed', q850Cause: 21 });
  });
});

describe('buildCdr: the Reason header', () => {
  it('overrides the status mapping', () => {
    const rec = buildCdr(facts({ sipStatus: 503, reason: ['Q.850;cause=34;text="No circuit/channel available"'] }));
    expect(rec).toMatchObject({ q850Cause: 34, sipStatus: 503, disposition: 'failed' });
  });

  it('decides the disposition through the cause it carries', () => {
    expect(buildCdr(facts({ sipStatus: 480, reason: ['Q.850;cause=19'] }))).toMatchObject({ disposition: 'no_answer', q850Cause: 19 });
    expect(buildCdr(facts({ sipStatus: 480, reason: ['Q.850;cause=20'] }))).toMatchObject({ disposition: 'failed', q850Cause: 20 });
    expect(buildCdr(facts({ sipStatus: 503, reason: ['Q.850;cause=17'] }))).toMatchObject({ disposition: 'busy', q850Cause: 17 });
  });

  it('maps a SIP-protocol Reason through RFC 3398', () => {
    expect(buildCdr(facts({ answeredAt: T0 + 1, sipStatus: 200, reason: ['SIP;cause=408'] })).q850Cause).toBe(102);
  });

  it('loses to a cause hibiki set itself, and is ignored when malformed', () => {
    expect(buildCdr(facts({ sipStatus: 486, q850Cause: 21, reason: ['Q.850;cause=17'] })).q850Cause).toBe(21);
    expect(buildCdr(facts({ sipStatus: 486, reason: ['Q.850;cause=300'] })).q850Cause).toBe(17);
  });

  it('an explicit cause outside 1–127 is ignored', () => {
    expect(buildCdr(facts({ sipStatus: 486, q850Cause: 0 })).q850Cause).toBe(17);
    expect(buildCdr(facts({ sipStatus: 486, q850Cause: 200 })).q850Cause).toBe(17);
  });
});

describe('buildCdr: times and defaults', () => {
  it('counts whole seconds, rounding down', () => {
    const rec = buildCdr(facts({ answeredAt: T0 + 400, endedAt: T0 + 1_399 }));
    expect(rec.duration).toBe(1);
    expect(rec.billsec).toBe(0);
  });

  it('never gives a negative duration or a billsec above duration when clocks disagree', () => {
    const backwards = buildCdr(facts({ endedAt: T0 - 5_000 }));
    expect(backwards.duration).toBe(0);
    expect(backwards.endedAt).toBe(backwards.startedAt);
    const early = buildCdr(facts({ answeredAt: T0 - 10_000, endedAt: T0 + 20_000 }));
    expect(early.answeredAt).toBe(early.startedAt);
    expect(early.billsec).toBe(20);
    expect(early.billsec).toBeLessThanOrEqual(early.duration);
  });

  it('throws on a time that is not a number', () => {
    expect(() => buildCdr(facts({ endedAt: Number.NaN }))).toThrow(RangeError);
    expect(() => buildCdr(facts({ answeredAt: Number.POSITIVE_INFINITY }))).toThrow(RangeError);
  });

  it('defaults linked_id to the Call-ID, feature to none and absent facts to null', () => {
    const rec = buildCdr(facts({ callerName: undefined, calleeNumber: undefined }));
    expect(rec).toMatchObject({
      linkedId: rec.callId,
      feature: 'none',
      callerName: null,
      calleeNumber: null,
      answeredBy: null,
      forwardedFrom: null,
      transferredBy: null,
      hangupReason: null,
      trunk: null,
      queue: null,
      recordingPath: null,
      q850Cause: 31,
      disposition: 'failed',
    });
    expect(rec.id).toBeUndefined();
  });

  it('keeps the facts it is given', () => {
    const rec = buildCdr(
      facts({
        linkedId: 'link-1',
        direction: 'outbound',
        feature: 'transfer_blind',
        forwardedFrom: '2003',
        transferredBy: '2004',
        queue: 'support',
        recordingPath: '/var/rec/1.wav',
      }),
    );
    expect(rec).toMatchObject({
      linkedId: 'link-1',
      direction: 'outbound',
      feature: 'transfer_blind',
      forwardedFrom: '2003',
      transferredBy: '2004',
      queue: 'support',
      recordingPath: '/var/rec/1.wav',
      callerName: '山田 太郎',
    });
  });
});

describe('CDR columns', () => {
  it('are exactly the SPEC F-CDR columns, in order, then queue_wait (the wait of a queue call, issue #11)', () => {
    expect(cdrFields.map((f) => cdrColumns[f])).toEqual([
      'id',
      'call_id',
      'linked_id',
      'started_at',
      'answered_at',
      'ended_at',
      'duration',
      'billsec',
      'direction',
      'disposition',
      'caller_number',
      'caller_name',
      'dialed_number',
      'callee_number',
      'answered_by',
      'forwarded_from',
      'transferred_by',
      'feature',
      'hangup_by',
      'q850_cause',
      'sip_status',
      'hangup_reason',
      'trunk',
      'queue',
      'recording_path',
      'queue_wait',
    ]);
  });

  it('map a record to a row and back', () => {
    const rec = buildCdr(facts({ answeredAt: T0 + 1_000, sipStatus: 200, trunk: 'carrier' }));
    const row = { id: 7, ...cdrToRow(rec) };
    expect(Object.keys(row).sort()).toEqual(cdrFields.map((f) => cdrColumns[f]).sort());
    expect(cdrFromRow(row)).toEqual({ ...rec, id: 7 });
  });
});
