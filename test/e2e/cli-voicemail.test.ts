// `hibiki voicemail list|export|delete` on the store and files a server left in the data directory.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { openDatabase } from '../../src/store/db.js';
import { VoicemailStore } from '../../src/store/voicemail-store.js';
import { buildWav } from '../../src/media/builtin/wav.js';
import { sine } from '../support/audio.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

describe('hibiki voicemail', () => {
  it('lists boxes and messages, exports a message WAV byte for byte, deletes a message and its file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hibiki-cli-vm-'));
    const data = join(dir, 'data');
    const config = join(dir, 'hibiki.yaml');
    writeFileSync(
      config,
      stringify({
        tenant: { domain: 'hibiki.test' },
        listen: [{ transport: 'udp', host: '127.0.0.1', port: 5060 }],
        data: { dir: data },
        extensions: [
          { number: '2001', name: 'Alice', password: 'secret-2001' },
          { number: '2002', name: 'Bob', password: 'secret-2002', voicemail: false },
        ],
        voicemailBoxes: [{ number: '3500', name: 'Sales', notify: ['2001'] }],
      }),
    );
    mkdirSync(join(data, 'voicemail', '2001'), { recursive: true });
    const wav = buildWav(sine(440, 12_000));
    writeFileSync(join(data, 'voicemail', '2001', 'a.wav'), wav);
    writeFileSync(join(data, 'voicemail', '2001', 'b.wav'), buildWav(sine(440, 800)));
    const db = openDatabase(data);
    const store = new VoicemailStore(db);
    const base = { box: '2001', calledNumber: '2001', callerName: undefined, callId: undefined };
    const first = store.add({ ...base, file: '2001/a.wav', receivedAt: Date.UTC(2025, 0, 6, 1, 0), callerNumber: '0312345678', durationMs: 1500 });
    const second = store.add({ ...base, file: '2001/b.wav', receivedAt: Date.UTC(2025, 0, 6, 2, 0), callerNumber: '2003', durationMs: 100 });
    store.setStatus(second.id, 'saved');
    db.close();

    const boxes = cli('voicemail', 'list', '--config', config);
    expect(boxes.status, boxes.stderr).toBe(0);
    expect(boxes.stdout.trim().split('\n')).toEqual(['2001\tAlice\tnew 1\tsaved 1', '3500\tSales\tnew 0\tsaved 0']);

    const messages = cli('voicemail', 'list', '2001', '--config', config);
    expect(messages.status).toBe(0);
    expect(messages.stdout.trim().split('\n')).toEqual([
      `${first.id}\tnew\t2025-01-06T01:00:00.000Z\t0312345678\t\t1.5\t${join(data, 'voicemail', '2001/a.wav')}`,
      `${second.id}\tsaved\t2025-01-06T02:00:00.000Z\t2003\t\t0.1\t${join(data, 'voicemail', '2001/b.wav')}`,
    ]);

    const target = join(dir, 'out.wav');
    const exported = cli('voicemail', 'export', '2001', String(first.id), target, '--config', config);
    expect(exported.status, exported.stderr).toBe(0);
    expect(readFileSync(target).equals(wav)).toBe(true);
    expect(cli('voicemail', 'export', '3500', String(first.id), target, '--config', config)).toMatchObject({
      status: 1,
      stderr: expect.stringContaining(`no message ${first.id} in voicemail box 3500`),
    });

    const deleted = cli('voicemail', 'delete', '2001', String(first.id), '--config', config);
    expect(deleted.status, deleted.stderr).toBe(0);
    expect(existsSync(join(data, 'voicemail', '2001', 'a.wav'))).toBe(false);
    expect(existsSync(join(data, 'voicemail', '2001', 'b.wav'))).toBe(true);
    expect(cli('voicemail', 'list', '--config', config).stdout.split('\n')[0]).toBe('2001\tAlice\tnew 0\tsaved 1');
    expect(cli('voicemail', 'delete', '2001', String(first.id), '--config', config).status).toBe(1);
  });

  it('config check refuses a weak PIN, naming the file and line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hibiki-cli-vm-'));
    const config = join(dir, 'hibiki.yaml');
    writeFileSync(config, 'tenant: { domain: hibiki.test }\nlisten: [{ transport: udp, port: 5060 }]\nextensions:\n  - number: "2001"\n    name: Alice\n    password: secret\n    pin: "9876"\n');
    const r = cli('config', 'check', config);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${config}:7`);
    expect(r.stderr).toContain('sequential');
  });

  it('forwarding set … on voicemail: to the own box, refused for an extension without one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hibiki-cli-vm-'));
    const config = join(dir, 'hibiki.yaml');
    writeFileSync(
      config,
      stringify({
        tenant: { domain: 'hibiki.test' },
        listen: [{ transport: 'udp', host: '127.0.0.1', port: 5060 }],
        data: { dir: join(dir, 'data') },
        extensions: [
          { number: '2001', name: 'Alice', password: 'secret-2001' },
          { number: '2002', name: 'Bob', password: 'secret-2002', voicemail: false },
        ],
      }),
    );
    const ok = cli('forwarding', 'set', '2001', 'cfna', 'on', 'voicemail', '--config', config);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('2001\tcfna\ton\tvoicemail\n');
    expect(cli('forwarding', 'set', '2002', 'cfna', 'on', 'voicemail', '--config', config)).toMatchObject({ status: 1, stderr: expect.stringContaining('2002 cfna: 2002 has no voicemail box') });
  });
});
