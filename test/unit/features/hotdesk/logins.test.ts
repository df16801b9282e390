// F-HOTDESK logins on a real SQLite database: one device per extension (a login elsewhere moves it), one
// extension per device, the taken extension's contacts include the device's, expired logins are removed when
// seen, a login that the config no longer allows is ignored, and the CLI lists and ends logins.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadConfigText } from '../../../../src/config/load.js';
import type { HibikiConfig } from '../../../../src/config/schema.js';
import { HotDeskLogins } from '../../../../src/features/hotdesk/logins.js';
import { hotDeskList, hotDeskLogout } from '../../../../src/features/hotdesk/cli.js';
import { HotDeskStore } from '../../../../src/store/hotdesk-store.js';
import { openDatabase, type Database } from '../../../../src/store/db.js';
import { realClock } from '../../../../src/util/clock.js';
import type { Contacts } from '../../../../src/features/extension.js';

function configOf(extra = ''): HibikiConfig {
  const r = loadConfigText(
    `tenant: { domain: pbx.example.com, timezone: Asia/Tokyo }
listen: [{ transport: udp, port: 5060 }]
extensions:
  - { number: "2001", name: Alice, password: a }
  - { number: "2002", name: Bob, password: b, pin: "2580" }
  - { number: "8001", name: Desk 1, password: d1, hotDesk: true }
  - { number: "8002", name: Desk 2, password: d2, hotDesk: true }
${extra}`,
    'hibiki.yaml',
  );
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.config;
}

const registrar: Contacts = {
  contacts: (aor) => [{ binding: { contact: `sip:${aor}@192.0.2.1`, reachable: true }, target: { transport: 'udp', address: '192.0.2.1', port: 5060 } }],
};

describe('HotDeskLogins', () => {
  let dir: string;
  let db: Database;
  let now: number;
  let config: HibikiConfig;
  let logins: HotDeskLogins;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hibiki-hotdesk-'));
    db = openDatabase(dir);
    now = Date.parse('2026-11-23T10:00:00+09:00');
    config = configOf();
    logins = new HotDeskLogins({ store: new HotDeskStore(db), registrar, config: () => config, clock: { ...realClock, now: () => now }, logger: pino({ level: 'silent' }) });
  });

  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds the device to the taken extension; a login elsewhere moves it; a new login replaces the old one', () => {
    expect(logins.login('8001', '2002').login.expires).toBe(Date.parse('2026-11-24T00:00:00+09:00'));
    expect(logins.contacts('2002').map((c) => c.binding.contact)).toEqual(['sip:2002@192.0.2.1', 'sip:8001@192.0.2.1']);
    expect(logins.takenBy('8001')?.number).toBe('2002');
    expect(logins.login('8002', '2002').movedFrom).toBe('8001');
    expect(logins.deviceOf('2002')).toBe('8002');
    expect(logins.takenBy('8001')).toBeUndefined();
    logins.login('8002', '2001');
    expect(logins.deviceOf('2002')).toBeUndefined();
    expect(logins.deviceOf('2001')).toBe('8002');
    expect(logins.logout('8002')?.extension).toBe('2001');
    expect(logins.contacts('2001').map((c) => c.binding.contact)).toEqual(['sip:2001@192.0.2.1']);
  });

  it('removes an expired login when seen, and counts hours when expires is a number', () => {
    logins.login('8001', '2002');
    now = Date.parse('2026-11-24T00:00:00+09:00');
    expect(logins.deviceOf('2002')).toBeUndefined();
    expect(new HotDeskStore(db).list()).toEqual([]);
    config = configOf('hotDesk: { expires: 2 }');
    expect(logins.login('8001', '2002').login.expires).toBe(now + 2 * 3_600_000);
  });

  it('ignores a login the config no longer allows (the device is no hot-desk device, the extension suspended)', () => {
    logins.login('8001', '2002');
    config = { ...config, extensions: config.extensions.map((e) => (e.number === '2002' ? { ...e, suspended: true } : e)) };
    expect(logins.deviceOf('2002')).toBeUndefined();
    config = { ...configOf(), extensions: configOf().extensions.map((e) => (e.number === '8001' ? { ...e, hotDesk: false } : e)) };
    expect(logins.deviceOf('2002')).toBeUndefined();
    config = { ...config, hotDesk: { ...config.hotDesk, anyDevice: true } };
    expect(logins.deviceOf('2002')).toBe('8001');
  });

  it('the CLI lists the logins and ends one by extension or by device', () => {
    logins.login('8001', '2002');
    logins.login('8002', '2001');
    expect(hotDeskList(db, now).lines).toEqual(['2001\t8002\t2026-11-23T01:00:00.000Z\t2026-11-23T15:00:00.000Z', '2002\t8001\t2026-11-23T01:00:00.000Z\t2026-11-23T15:00:00.000Z']);
    expect(hotDeskLogout(db, '2002', now)).toEqual({ lines: ['logged out: 2002 from 8001'], exitCode: 0 });
    expect(hotDeskLogout(db, '8002', now).exitCode).toBe(0);
    expect(hotDeskLogout(db, '2002', now)).toEqual({ lines: ['no hot-desk login for 2002'], exitCode: 1 });
    expect(hotDeskList(db, now).lines).toEqual([]);
  });
});
