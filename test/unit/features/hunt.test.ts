import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/store/db.js';
import { HuntStore } from '../../../src/store/hunt-store.js';
import { HuntGroups } from '../../../src/features/hunt.js';
import type { GroupConfig } from '../../../src/pbx/router.js';

function group(strategy: GroupConfig['strategy'], members = ['2001', '2002', '2003', '2004']): GroupConfig {
  return { number: '600', name: 'Sales', strategy, members, memberRingTime: 20, timeout: 60, record: 'never' };
}

describe('hunt order', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hibiki-hunt-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('sequential and ringall keep the member order and drop unavailable members', () => {
    const db = openDatabase(dir);
    const hunt = new HuntGroups(new HuntStore(db));
    const available = new Set(['2001', '2003', '2004']);
    expect(hunt.order(group('sequential'), available)).toEqual(['2001', '2003', '2004']);
    expect(hunt.order(group('ringall'), available)).toEqual(['2001', '2003', '2004']);
    db.close();
  });

  it('round-robin starts after the member tried first last time, skips unavailable ones, and survives a restart', () => {
    const all = new Set(['2001', '2002', '2003', '2004']);
    const g = group('roundrobin');
    let db = openDatabase(dir);
    let hunt = new HuntGroups(new HuntStore(db));
    expect(hunt.order(g, all)[0]).toBe('2001');
    hunt.triedFirst(g, '2001', 1);
    expect(hunt.order(g, all)).toEqual(['2002', '2003', '2004', '2001']);
    expect(hunt.order(g, new Set(['2001', '2004']))).toEqual(['2004', '2001']);
    hunt.triedFirst(g, '2004', 2);
    db.close();
    db = openDatabase(dir);
    hunt = new HuntGroups(new HuntStore(db));
    expect(hunt.order(g, all)).toEqual(['2001', '2002', '2003', '2004']);
    db.close();
  });

  it('a round-robin member removed from the group restarts the order at the top', () => {
    const db = openDatabase(dir);
    const hunt = new HuntGroups(new HuntStore(db));
    hunt.triedFirst(group('roundrobin'), '2009', 1);
    expect(hunt.order(group('roundrobin'), new Set(['2001', '2002']))).toEqual(['2001', '2002']);
    db.close();
  });

  it('least-recent puts members never called first, then by when their last group call ended', () => {
    const db = openDatabase(dir);
    const hunt = new HuntGroups(new HuntStore(db));
    const g = group('leastrecent');
    const all = new Set(g.members);
    hunt.callEnded(g, '2001', 300);
    hunt.callEnded(g, '2003', 100);
    expect(hunt.order(g, all)).toEqual(['2002', '2004', '2003', '2001']);
    db.close();
  });

  it('random shuffles the available members with the given source of randomness', () => {
    const db = openDatabase(dir);
    const seq = [0.1, 0.9, 0.5];
    const hunt = new HuntGroups(new HuntStore(db), () => seq.shift() ?? 0);
    const order = hunt.order(group('random'), new Set(['2001', '2002', '2003', '2004']));
    expect([...order].sort()).toEqual(['2001', '2002', '2003', '2004']);
    expect(order).not.toEqual(['2001', '2002', '2003', '2004']);
    db.close();
  });
});
