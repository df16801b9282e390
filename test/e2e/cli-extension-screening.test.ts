// `hibiki extension remove` and `hibiki screening stats` as an admin uses them. Removing an extension that
// is still a group member is refused unless forced; forced, it leaves every group too, the comments of the
// file survive, and a running server reloads the edited file without dropping anything else.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../support/call-helpers.js';
import { hibikiSession } from '../support/session.js';
import { CallFailedError } from '../support/test-ua.js';
import { removeExtensionFromText } from '../../src/config/remove-extension.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

const { start } = hibikiSession();

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

const extensions = ['2001', '2002', '2003'].map((n) => ({ number: n, name: `User ${n}`, password: `secret-${n}` }));

// Each CLI run is a whole process start (about a second, several on a busy machine): a generous limit.
describe('hibiki extension remove', { timeout: 120_000 }, () => {
  it('refuses while the extension is a group member, removes it everywhere with --force, and the server reloads', async () => {
    const { h, phone } = await start({
      extensions,
      config: {
        groups: [{ number: '600', name: 'Sales', members: ['2002', '2003'] }],
        pickupGroups: [{ number: '1', members: ['2001', '2002'] }],
      },
    });
    writeFileSync(h.configPath, `# site config, kept by the CLI\n${readFileSync(h.configPath, 'utf8')}`);
    let r = cli('extension', 'remove', '2002', '--config', h.configPath);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('still a member of group 600');
    expect(r.stderr).toContain('pickup group 1');
    expect(readFileSync(h.configPath, 'utf8')).toContain('2002');

    r = cli('extension', 'remove', '2002', '--config', h.configPath, '--force');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('removed 2002 from group 600');
    const text = readFileSync(h.configPath, 'utf8');
    expect(text).toContain('# site config, kept by the CLI');
    expect(text).not.toMatch(/["' ]2002["'\n]/);
    await waitUntil(() => h.server.currentConfig.extensions.length === 2, 5000);
    expect(h.server.currentConfig.groups[0]?.members).toEqual(['2003']);
    // The removed extension cannot be called any more; the others still can.
    const alice = await phone('2001');
    const err = await alice.call('2002').then(
      () => undefined,
      (e: unknown) => e as CallFailedError,
    );
    expect(err?.status).toBe(404);
  });

  it('refuses when the removal would leave the file invalid, or a DID rings the extension', () => {
    const head =
      'tenant: { domain: pbx.example.com }\nlisten: [{ transport: udp, port: 5060 }]\nextensions:\n  - { number: "2001", name: A, password: a }\n  - { number: "2002", name: B, password: b }\n';
    const lone = removeExtensionFromText(`${head}groups:\n  - { number: "600", name: S, members: ["2002"] }\n`, 'h.yaml', '2002', true);
    expect(lone.ok).toBe(false);
    expect(lone.ok ? '' : lone.reason).toContain('at least one member');
    const did = removeExtensionFromText(`${head}inbound:\n  - { did: "0312345678", destination: "2002" }\n`, 'h.yaml', '2002', true);
    expect(did.ok ? '' : did.reason).toContain('DID 0312345678 (line 7) rings extension 2002');
    const missing = removeExtensionFromText(head, 'h.yaml', '2009', false);
    expect(missing.ok ? '' : missing.reason).toContain('extension 2009 is not in h.yaml');
  });
});

// Each CLI run is a whole process start (about a second, several on a busy machine): a generous limit.
describe('hibiki screening stats', { timeout: 120_000 }, () => {
  it("prints this month's and last month's rejected calls per target", async () => {
    const { h, phone } = await start({ extensions: extensions.map((e) => (e.number === '2002' ? { ...e, blockList: ['2001'] } : e)) });
    const alice = await phone('2001');
    for (let i = 0; i < 2; i++) {
      await alice.call('2002').then(
        () => undefined,
        () => undefined,
      );
    }
    await waitUntil(() => h.server.screening.counters({ extension: '2002' }).thisMonth === 2, 3000);
    const r = cli('screening', 'stats', '--config', h.configPath);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ext:2002\t2\t0$/m);
  });
});
