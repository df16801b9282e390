import Database from 'better-sqlite3';
import { beforeEach, describe, expect, it } from 'vitest';
import { migrate } from '../../../src/store/migrations.js';
import { VoicemailStore } from '../../../src/store/voicemail-store.js';

describe('VoicemailStore', () => {
  let store: VoicemailStore;
  beforeEach(() => {
    const db = new Database(':memory:');
    migrate(db);
    store = new VoicemailStore(db);
  });

  const msg = (box: string, receivedAt: number) => ({
    box,
    file: `${box}/${receivedAt}.wav`,
    receivedAt,
    callerNumber: '0312345678',
    callerName: undefined,
    calledNumber: box,
    durationMs: 4000,
    callId: 'abc',
  });

  it('lists new messages before saved ones, each oldest first, and counts them', () => {
    const a = store.add(msg('2001', 3000));
    store.add(msg('2001', 1000));
    const c = store.add(msg('2001', 2000));
    store.add(msg('2002', 500));
    store.setStatus(c.id, 'saved');
    store.setStatus(a.id, 'saved');
    expect(store.list('2001').map((m) => [m.receivedAt, m.status])).toEqual([
      [1000, 'new'],
      [2000, 'saved'],
      [3000, 'saved'],
    ]);
    expect(store.counts('2001')).toEqual({ new: 1, saved: 2 });
    expect(store.counts('2003')).toEqual({ new: 0, saved: 0 });
    expect(store.boxes()).toEqual(['2001', '2002']);
  });

  it('removes a message and returns what it was, once', () => {
    const a = store.add(msg('2001', 1000));
    expect(store.remove(a.id)?.file).toBe('2001/1000.wav');
    expect(store.remove(a.id)).toBeUndefined();
    expect(store.list('2001')).toEqual([]);
  });
});
