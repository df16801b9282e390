// `hibiki recordings list|export` on the CDR rows and files a server left in the data directory.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { openDatabase } from '../../src/store/db.js';
import { CdrStore } from '../../src/store/cdr-store.js';
import { buildCdr } from '../../src/pbx/cdr.js';
import { buildWav } from '../../src/media/builtin/wav.js';
import { sine } from '../support/audio.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

describe('hibiki recordings', () => {
  it('lists the recorded calls of a range and exports one WAV byte for byte', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hibiki-cli-rec-'));
    const data = join(dir, 'data');
    const config = join(dir, 'hibiki.yaml');
    writeFileSync(
      config,
      stringify({
        tenant: { domain: 'hibiki.test' },
        listen: [{ transport: 'udp', host: '127.0.0.1', port: 5060 }],
        data: { dir: data },
        extensions: [{ number: '2001', name: 'Alice', password: 'secret-2001' }],
      }),
    );
    const folder = join(data, 'recordings', '2026', '01', '06');
    mkdirSync(folder, { recursive: true });
    const wav = buildWav(sine(500, 16_000), 8000, 2);
    const path = join(folder, 'k1-1.wav');
    writeFileSync(path, wav);
    const db = openDatabase(data);
    const cdr = new CdrStore(db);
    const base = { direction: 'internal' as const, callerNumber: '2001', dialedNumber: '2002', calleeNumber: '2002', hangupBy: 'caller' as const, sipStatus: 200, q850Cause: 16, cancelled: false };
    const at = Date.UTC(2026, 0, 6, 3, 0);
    cdr.insert(buildCdr({ ...base, callId: 'recorded@x', linkedId: 'k1-1', startedAt: at, answeredAt: at + 1000, endedAt: at + 3000, recordingPath: path }));
    cdr.insert(buildCdr({ ...base, callId: 'plain@x', startedAt: at + 5000, answeredAt: at + 6000, endedAt: at + 9000 }));
    db.close();

    const list = cli('recordings', 'list', '--from', '2026-01-01', '--to', '2026-01-31', '--config', config);
    expect(list.status).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.split('\t')).toEqual(['recorded@x', 'k1-1', expect.stringContaining('2026-01-06'), '2001', '2002', '2', path]);
    expect(cli('recordings', 'list', '--from', '2026-02-01', '--config', config).stdout).toBe('');

    const out = join(dir, 'copy.wav');
    const exported = cli('recordings', 'export', 'recorded@x', out, '--config', config);
    expect(exported.status).toBe(0);
    expect(readFileSync(out).equals(wav)).toBe(true);
    expect(cli('recordings', 'export', 'k1-1', out, '--config', config).status).toBe(0);
    const missing = cli('recordings', 'export', 'plain@x', out, '--config', config);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('no recording for call plain@x');
  });
});
