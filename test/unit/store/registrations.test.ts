import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/store/db.js';
import type { Database } from '../../../src/store/db.js';
import { migrations } from '../../../src/store/migrations.js';
import { RegistrationStore } from '../../../src/store/registrations.js';
import type { Binding } from '../../../src/store/registrations.js';

const T0 = 1_700_000_000_000;

function binding(over: Partial<Binding> = {}): Binding {
  return {
    aor: 'sip:2001@hibiki.local',
    contact: 'sip:2001@192.0.2.10:5060;transport=udp',
    callId: 'call-1@192.0.2.10',
    cseq: 1,
    expiresAt: T0 + 600_000,
    transport: 'udp',
    sourceAddress: '192.0.2.10',
    sourcePort: 5060,
    localAddress: '198.51.100.1',
    localPort: 5060,
    registeredAt: T0,
    reachable: true,
    missedQualify: 0,
    webrtc: false,
    ...over,
  };
}

function rowCount(db: Database): number {
  return (db.prepare('SELECT COUNT(*) AS n FROM registrations').get() as { n: number }).n;
}

describe('openDatabase', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hibiki-db-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the directory and file, sets the pragmas and runs the migrations', () => {
    const dataDir = join(dir, 'nested', 'data');
    const db = openDatabase(dataDir);
    try {
      expect(existsSync(join(dataDir, 'hibiki.db'))).toBe(true);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('synchronous', { simple: true })).toBe(1);
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
      expect(db.pragma('user_version', { simple: true })).toBe(migrations.at(-1)?.version);
      expect(rowCount(db)).toBe(0);
    } finally {
      db.close();
    }
  });

  it('is idempotent when reopened', () => {
    openDatabase(dir).close();
    const db = openDatabase(dir);
    expect(db.pragma('user_version', { simple: true })).toBe(migrations.length);
    db.close();
  });

  it('refuses a database written by a newer version', () => {
    const db = openDatabase(dir);
    db.pragma('user_version = 999');
    db.close();
    expect(() => openDatabase(dir)).toThrow(/newer/);
  });

  it('numbers migrations 1, 2, 3… in order', () => {
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
  });
});

describe('RegistrationStore', () => {
  let dir: string;
  let db: Database;
  let now: number;
  const clock = () => now;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hibiki-reg-'));
    db = openDatabase(dir);
    now = T0;
  });
  afterEach(() => {
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores, looks up and replaces bindings keyed by (aor, contact)', () => {
    const store = new RegistrationStore(db, clock);
    store.upsert(binding());
    store.upsert(binding({ contact: 'sip:2001@192.0.2.11:5062', registeredAt: T0 + 1000, userAgent: 'Phone/2' }));
    store.upsert(binding({ aor: 'sip:2002@hibiki.local', contact: 'sip:2002@192.0.2.20' }));
    expect(store.count()).toBe(3);
    expect(store.list('sip:2001@hibiki.local').map((b) => b.contact)).toEqual(['sip:2001@192.0.2.11:5062', 'sip:2001@192.0.2.10:5060;transport=udp']);
    expect(store.get('sip:2001@hibiki.local', 'sip:2001@192.0.2.11:5062')?.userAgent).toBe('Phone/2');
    expect(store.get('sip:2001@hibiki.local', 'sip:nobody@x')).toBeUndefined();
    expect(store.list('sip:9999@hibiki.local')).toEqual([]);

    store.upsert(binding({ cseq: 2, expiresAt: T0 + 900_000 }));
    expect(store.count()).toBe(3);
    expect(store.get('sip:2001@hibiki.local', 'sip:2001@192.0.2.10:5060;transport=udp')).toMatchObject({ cseq: 2, expiresAt: T0 + 900_000 });
    expect(store.all()).toHaveLength(3);
  });

  it('hands out copies, so callers cannot change stored bindings behind its back', () => {
    const store = new RegistrationStore(db, clock);
    const b = binding();
    store.upsert(b);
    b.cseq = 99;
    const got = store.get(b.aor, b.contact);
    expect(got?.cseq).toBe(1);
    if (got) got.cseq = 42;
    expect(store.list(b.aor)[0].cseq).toBe(1);
  });

  it('peek() lists the live bindings like list() without copies; heldCount() counts expired ones too', () => {
    const store = new RegistrationStore(db, clock);
    const aor = 'sip:2001@hibiki.local';
    expect(store.peek(aor)).toEqual([]);
    expect(store.heldCount(aor)).toBe(0);
    store.upsert(binding({ expiresAt: T0 + 1000 }));
    expect(store.peek(aor).map((b) => b.contact)).toEqual(['sip:2001@192.0.2.10:5060;transport=udp']);
    store.upsert(binding({ contact: 'sip:b@x', registeredAt: T0 + 10, expiresAt: T0 + 5000 }));
    store.upsert(binding({ contact: 'sip:c@x', registeredAt: T0 + 20, expiresAt: T0 + 5000 }));
    expect(store.peek(aor)).toEqual(store.list(aor));
    expect(store.peek(aor).map((b) => b.contact)).toEqual(['sip:c@x', 'sip:b@x', 'sip:2001@192.0.2.10:5060;transport=udp']);
    now = T0 + 1000;
    expect(store.peek(aor).map((b) => b.contact)).toEqual(['sip:c@x', 'sip:b@x']);
    expect(store.heldCount(aor)).toBe(3);
    now = T0 + 5000;
    expect(store.peek(aor)).toEqual([]);
  });

  it('hides expired bindings from lookups before they are swept', () => {
    const store = new RegistrationStore(db, clock);
    store.upsert(binding({ expiresAt: T0 + 1000 }));
    store.upsert(binding({ contact: 'sip:b@x', expiresAt: T0 + 5000 }));
    now = T0 + 1000;
    expect(store.list('sip:2001@hibiki.local').map((b) => b.contact)).toEqual(['sip:b@x']);
    expect(store.get('sip:2001@hibiki.local', 'sip:2001@192.0.2.10:5060;transport=udp')).toBeUndefined();
    expect(store.all()).toHaveLength(1);
    expect(store.count()).toBe(2);
  });

  it('expire() removes and returns exactly the expired bindings, from memory and disk', () => {
    const store = new RegistrationStore(db, clock);
    store.upsert(binding({ expiresAt: T0 + 1000 }));
    store.upsert(binding({ contact: 'sip:b@x', expiresAt: T0 + 5000 }));
    store.upsert(binding({ aor: 'sip:2002@hibiki.local', contact: 'sip:c@x', expiresAt: T0 + 1000 }));
    store.flush();
    expect(store.expire(T0 + 999)).toEqual([]);
    const gone = store.expire(T0 + 1000);
    expect(gone.map((b) => b.contact).sort()).toEqual(['sip:2001@192.0.2.10:5060;transport=udp', 'sip:c@x']);
    expect(store.count()).toBe(1);
    store.flush();
    expect(rowCount(db)).toBe(1);
    expect(store.expire(T0 + 4999)).toEqual([]);
    expect(store.expire(T0 + 5000)).toHaveLength(1);
    expect(store.count()).toBe(0);
  });

  it('remove() and removeAll() delete from memory and disk', () => {
    const store = new RegistrationStore(db, clock);
    store.upsert(binding());
    store.upsert(binding({ contact: 'sip:b@x' }));
    store.upsert(binding({ contact: 'sip:c@x' }));
    store.upsert(binding({ aor: 'sip:2002@hibiki.local' }));
    expect(store.remove('sip:2001@hibiki.local', 'sip:b@x')).toBe(true);
    expect(store.remove('sip:2001@hibiki.local', 'sip:b@x')).toBe(false);
    expect(store.remove('sip:nobody@x', 'sip:b@x')).toBe(false);
    expect(store.removeAll('sip:2001@hibiki.local')).toBe(2);
    expect(store.removeAll('sip:2001@hibiki.local')).toBe(0);
    expect(store.count()).toBe(1);
    store.flush();
    expect(rowCount(db)).toBe(1);
  });

  it('setReachable updates the binding and persists it', () => {
    const store = new RegistrationStore(db, clock);
    const b = binding();
    store.upsert(b);
    store.setReachable(b.aor, b.contact, false, 3);
    expect(store.get(b.aor, b.contact)).toMatchObject({ reachable: false, missedQualify: 3 });
    store.setReachable('sip:nobody@x', b.contact, false, 1);
    store.close();
    const again = new RegistrationStore(db, clock);
    expect(again.get(b.aor, b.contact)).toMatchObject({ reachable: false, missedQualify: 3 });
  });

  it('keeps whether a device registered with +sip.ice (WebRTC) across a restart', () => {
    const store = new RegistrationStore(db, clock);
    store.upsert(binding({ contact: 'sip:browser@df7.invalid;transport=ws', transport: 'wss', webrtc: true }));
    store.upsert(binding());
    store.close();
    const again = new RegistrationStore(db, clock);
    expect(again.get('sip:2001@hibiki.local', 'sip:browser@df7.invalid;transport=ws')?.webrtc).toBe(true);
    expect(again.get('sip:2001@hibiki.local', binding().contact)?.webrtc).toBe(false);
  });

  it('coalesces writes into one transaction per event-loop turn', async () => {
    const store = new RegistrationStore(db, clock);
    for (let i = 0; i < 500; i++) store.upsert(binding({ aor: `sip:${3000 + i}@hibiki.local` }));
    store.remove('sip:3000@hibiki.local', binding().contact);
    expect(rowCount(db)).toBe(0);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(rowCount(db)).toBe(499);
    const changesBefore = (db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
    store.flush();
    expect((db.prepare('SELECT total_changes() AS n').get() as { n: number }).n).toBe(changesBefore);
  });

  it('writes only the final state of a binding changed several times in one turn', () => {
    const store = new RegistrationStore(db, clock);
    store.upsert(binding({ cseq: 1 }));
    store.remove(binding().aor, binding().contact);
    store.upsert(binding({ cseq: 3 }));
    store.flush();
    expect(db.prepare('SELECT cseq FROM registrations').all()).toEqual([{ cseq: 3 }]);
    store.remove(binding().aor, binding().contact);
    store.flush();
    expect(rowCount(db)).toBe(0);
  });

  it('survives a restart: live bindings come back with every field, expired ones are gone', () => {
    const store = new RegistrationStore(db, clock);
    const full = binding({
      aor: 'sip:2003@hibiki.local',
      contact: 'sip:2003@203.0.113.5:40000;transport=ws;ob',
      instanceId: '<urn:uuid:00000000-0000-1000-8000-000000000001>',
      regId: 1,
      q: 0.5,
      transport: 'ws',
      connectionId: 'ws-17',
      userAgent: 'SIP.js/0.21',
      reachable: false,
      missedQualify: 2,
    });
    store.upsert(full);
    store.upsert(binding());
    store.upsert(binding({ aor: 'sip:2004@hibiki.local', expiresAt: T0 + 10_000 }));
    store.close();
    db.close();

    now = T0 + 10_000;
    db = openDatabase(dir);
    const reopened = new RegistrationStore(db, clock);
    expect(reopened.count()).toBe(2);
    expect(reopened.get(full.aor, full.contact)).toEqual(full);
    expect(reopened.get(binding().aor, binding().contact)).toEqual(binding());
    expect(reopened.list('sip:2004@hibiki.local')).toEqual([]);
    expect(rowCount(db)).toBe(2);
    const minimal = reopened.get(binding().aor, binding().contact);
    expect(minimal && 'instanceId' in minimal ? minimal.instanceId : undefined).toBeUndefined();
  });

  it('keeps working in memory after close without writing or throwing', () => {
    const store = new RegistrationStore(db, clock);
    store.close();
    store.upsert(binding());
    expect(store.count()).toBe(1);
    store.flush();
    expect(rowCount(db)).toBe(0);
  });

  it('keeps pending writes when the database fails and writes them on a later flush', async () => {
    const store = new RegistrationStore(db, clock);
    db.exec("CREATE TRIGGER block BEFORE INSERT ON registrations BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    store.upsert(binding());
    await new Promise((r) => setImmediate(r));
    expect(() => store.flush()).toThrow(/disk full/);
    db.exec('DROP TRIGGER block');
    store.flush();
    expect(rowCount(db)).toBe(1);
  });

  it('uses well under 1 KiB of heap per binding', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const store = new RegistrationStore(db, clock);
    // Header values arrive as slices of a whole message; the store must not keep the message alive.
    const message = `REGISTER sip:hibiki.local SIP/2.0\r\n${'X-Padding: '.padEnd(1500, 'p')}\r\n`;
    const n = 20_000;
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < n; i++) {
      const msg = `${message}${i}`;
      store.upsert(
        binding({
          aor: `sip:${10000 + i}@hibiki.local`,
          contact: `sip:${10000 + i}@192.0.2.${i % 250}:${5060 + (i % 1000)};transport=tcp`,
          callId: `${msg.slice(40, 60)}${i}-a84b4c76e66710@pc33.atlanta.example.com`,
          instanceId: `<urn:uuid:00000000-0000-1000-8000-${String(i).padStart(12, '0')}>`,
          userAgent: msg.slice(30, 60),
          connectionId: `tcp-${i}`,
          transport: 'tcp',
        }),
      );
    }
    store.flush();
    gc();
    const perBinding = (process.memoryUsage().heapUsed - before) / n;
    expect(store.count()).toBe(n);
    expect(perBinding).toBeLessThan(1024);
  });
});
