// QueueEventStore.lastAgentStatesBefore: each agent's state when a statistics period starts — the latest
// AGENT row before the instant by time (then by row), per queue and agent, other events ignored.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../../src/store/db.js';
import { QueueEventStore } from '../../../src/store/queue-event-store.js';

describe('QueueEventStore.lastAgentStatesBefore', () => {
  let dir: string;
  let db: Database;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hibiki-qevents-'));
    db = openDatabase(dir);
  });

  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the last AGENT row per (queue, agent) before the instant', () => {
    const store = new QueueEventStore(db);
    store.appendMany([
      { at: 100, queue: '500', agent: '2001', event: 'AGENT', detail: 'available' },
      { at: 300, queue: '500', agent: '2001', event: 'AGENT', detail: 'in_call' },
      // Written later but earlier in time (a timer's end time): time decides.
      { at: 200, queue: '500', agent: '2001', event: 'AGENT', detail: 'wrapup' },
      { at: 300, queue: '500', agent: '2001', event: 'AGENT', detail: 'on_hold' },
      { at: 400, queue: '500', agent: '2001', event: 'AGENT', detail: 'available' },
      { at: 150, queue: '500', agent: '2001', event: 'PAUSE', detail: '|cli' },
      { at: 150, queue: '510', agent: '2001', event: 'AGENT', detail: 'paused:離席中' },
      { at: 120, queue: '500', agent: '2002', event: 'AGENT', detail: 'available' },
    ]);
    expect(store.lastAgentStatesBefore(400).map((e) => [e.queue, e.agent, e.at, e.detail])).toEqual([
      ['500', '2001', 300, 'on_hold'],
      ['500', '2002', 120, 'available'],
      ['510', '2001', 150, 'paused:離席中'],
    ]);
    expect(store.lastAgentStatesBefore(100)).toEqual([]);
  });
});
