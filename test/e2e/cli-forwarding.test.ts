// `hibiki forwarding`, `hibiki dnd` and `hibiki bulk` as an admin uses them: changes land in the data
// directory the server shares, the running server sees them at its next call, errors exit non-zero.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startHibiki, type RunningHibiki } from '../support/hibiki.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

const BULK = [
  {
    name: 'disaster',
    members: [{ extension: '2002', destination: '0312345678' }, { extension: '2003' }, { did: '0355550000', destination: '110' }],
  },
];

let hibiki: RunningHibiki | undefined;

afterEach(async () => {
  await hibiki?.stop();
  hibiki = undefined;
});

function workspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hibiki-cli-fwd-'));
  const config = join(dir, 'hibiki.yaml');
  writeFileSync(
    config,
    stringify({
      tenant: { domain: 'hibiki.test' },
      listen: [{ transport: 'udp', host: '127.0.0.1', port: 5060 }],
      data: { dir: join(dir, 'data') },
      extensions: [
        { number: '2001', name: 'Alice', password: 'secret-2001', forwarding: { busy: '2002' } },
        { number: '2002', name: 'Bob', password: 'secret-2002' },
        { number: '2003', name: 'Carol', password: 'secret-2003' },
      ],
      // Outside forwarding destinations must be taken by an outbound route.
      trunks: [{ name: 'carrier', host: '192.0.2.10' }],
      routes: [{ name: 'out', prefix: '0', trunk: 'carrier' }],
      bulkForwarding: BULK,
    }),
  );
  return config;
}

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

// Each CLI run is a whole process start (about a second, several on a busy machine): a generous limit.
describe('hibiki forwarding / dnd / bulk', { timeout: 120_000 }, () => {
  it('sets, shows and refuses forwarding; state persists between runs', () => {
    const config = workspace();
    let r = cli('forwarding', 'show', '2001', '--config', config);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^destination 1\t2002$/m);
    expect(r.stdout).toMatch(/^cfb\ton\t2002$/m);
    expect(r.stdout).toMatch(/^effective now\tsource=normal cfb=2002 dnd=off noAnswerTimeout=20$/m);

    r = cli('forwarding', 'set', '2001', 'cfu', 'on', '03-1234-5678', '--config', config);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('2001\tcfu\ton\t0312345678\n');
    // The change is logged as a structured line on stderr.
    expect(r.stderr).toContain('"by":"cli"');

    r = cli('forwarding', 'set', '2001', 'cfna', 'on', '110', '--config', config);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/2001 cfna: 110 is an emergency or service number/);
    // 184 would be stripped when the call is placed (really 110); 9 leads nowhere.
    r = cli('forwarding', 'set', '2001', 'cfna', 'on', '184110', '--config', config);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/2001 cfna: a forwarding destination cannot carry the 184\/186 prefix/);
    r = cli('forwarding', 'set', '2001', 'cfna', 'on', '9', '--config', config);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/2001 cfna: no route to 9/);

    r = cli('dnd', '2001', 'on', '--config', config);
    expect(r.status).toBe(0);

    r = cli('forwarding', 'show', '2001', '--config', config);
    expect(r.stdout).toMatch(/^cfu\ton\t0312345678$/m);
    expect(r.stdout).toMatch(/^dnd\ton$/m);
    expect(r.stdout).toMatch(/^effective now\tsource=normal cfu=0312345678 dnd=on noAnswerTimeout=20$/m);

    r = cli('forwarding', 'set', '2001', 'cfu', 'off', '--config', config);
    expect(r.status).toBe(0);
    r = cli('forwarding', 'show', '2001', '--config', config);
    expect(r.stdout).toMatch(/^cfu\toff\t0312345678$/m);
    expect(r.stdout).toMatch(/^effective now\tsource=normal cfb=2002 dnd=on/m);

    expect(cli('forwarding', 'show', '2999', '--config', config).status).toBe(1);
    expect(cli('forwarding', 'set', '2001', 'cfx', 'on', '--config', config).status).toBe(2);
    expect(cli('forwarding', 'set', '2001', 'cfu', 'off', '2002', '--config', config).status).toBe(2);
    expect(cli('dnd', '2001', 'maybe', '--config', config).status).toBe(2);
  });

  it('bulk list / on / off print each member and exit 1 when one is in error', () => {
    const config = workspace();
    let r = cli('bulk', 'list', '--config', config);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('disaster\toff\t3 members\t\n');

    r = cli('bulk', 'on', 'disaster', '--config', config);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^2002\textension\tok\t0312345678\t$/m);
    expect(r.stdout).toMatch(/^2003\textension\tunchanged\t\tno bulk destination$/m);
    expect(r.stdout).toMatch(/^0355550000\tdid\terror\t110\t110 is an emergency or service number$/m);
    expect(r.stdout).toMatch(/1 ok, 1 unchanged, 1 error/);

    r = cli('bulk', 'list', '--config', config);
    expect(r.stdout).toMatch(/^disaster\ton\t3 members\t\d{4}-\d\d-\d\dT/m);
    r = cli('forwarding', 'show', '2002', '--config', config);
    expect(r.stdout).toMatch(/^effective now\tsource=bulk cfu=0312345678/m);

    r = cli('bulk', 'off', 'disaster', '--config', config);
    expect(r.status).toBe(0);
    expect(cli('bulk', 'list', '--config', config).stdout).toMatch(/^disaster\toff/m);

    r = cli('bulk', 'on', 'nope', '--config', config);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unknown bulk-forwarding set "nope"/);
    expect(cli('bulk', 'on', '--config', config).status).toBe(2);
  });

  it('the running server sees a CLI change at its next call', async () => {
    const h = (hibiki = await startHibiki({ config: { bulkForwarding: [{ name: 'disaster', members: [{ extension: '2002', destination: '2003' }] }] } }));
    expect(h.server.forwarding.effective('2002').source).toBe('normal');
    expect(cli('bulk', 'on', 'disaster', '--config', h.configPath).status).toBe(0);
    expect(h.server.forwarding.effective('2002')).toMatchObject({ cfu: '2003', source: 'bulk' });
    expect(cli('forwarding', 'set', '2001', 'cfna', 'on', '2003', '--config', h.configPath).status).toBe(0);
    expect(h.server.forwarding.effective('2001')).toMatchObject({ cfna: '2003', source: 'normal' });
    expect(cli('dnd', '2003', 'on', '--config', h.configPath).status).toBe(0);
    expect(h.server.forwarding.effective('2003').dnd).toBe(true);
  });
});
