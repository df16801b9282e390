// F-SERVICE-CODES: which dialled strings the forwarding/DND codes claim, and what a claimed code does
// (state change, prompt in the caller's language, CDR feature), with the call machinery faked.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configSchema, type HibikiConfig } from '../../../src/config/schema.js';
import { parseServiceCode, ServiceCodes } from '../../../src/features/service-codes.js';
import { PromptCatalogue } from '../../../src/media/prompts.js';
import type { CallApi, DialPlanEntry, FeatureRegistry } from '../../../src/pbx/application.js';
import { Call, type CallOutcome } from '../../../src/pbx/call.js';
import { Leg } from '../../../src/pbx/leg.js';
import { ForwardingService } from '../../../src/features/forwarding.js';
import type { MediaEngine } from '../../../src/media/engine.js';
import { FakeClock } from '../../support/fake-clock.js';
import { openDatabase, type Database } from '../../../src/store/db.js';

function buildConfig(extra: Record<string, unknown> = {}): HibikiConfig {
  return configSchema.parse({
    tenant: { domain: 'pbx.example.com' },
    listen: [{ transport: 'udp', port: 5060 }],
    extensions: [
      { number: '2001', name: 'Alice', password: 'a' },
      { number: '2002', name: 'Bob', password: 'b', language: 'en' },
      { number: '2003', name: 'Carol', password: 'c' },
    ],
    ...extra,
  });
}

describe('parseServiceCode', () => {
  const codes = buildConfig().serviceCodes;

  it('claims the on codes with or without a number (hyphens ignored)', () => {
    expect(parseServiceCode('1421', codes)).toEqual({ kind: 'forward', condition: 'cfu', on: true, destination: undefined });
    expect(parseServiceCode('14212003', codes)).toEqual({ kind: 'forward', condition: 'cfu', on: true, destination: '2003' });
    expect(parseServiceCode('1423-03-1234-5678', codes)).toEqual({ kind: 'forward', condition: 'cfb', on: true, destination: '0312345678' });
    expect(parseServiceCode('1425', codes)).toMatchObject({ condition: 'cfna', on: true });
    expect(parseServiceCode('14272001', codes)).toMatchObject({ condition: 'cfur', on: true, destination: '2001' });
    // Not digits: still this code, refused later by the destination rules.
    expect(parseServiceCode('1421*5', codes)).toMatchObject({ condition: 'cfu', destination: '*5' });
  });

  it('claims off and DND codes only when dialled exactly', () => {
    expect(parseServiceCode('1422', codes)).toEqual({ kind: 'forward', condition: 'cfu', on: false });
    expect(parseServiceCode('1424', codes)).toMatchObject({ condition: 'cfb', on: false });
    expect(parseServiceCode('1426', codes)).toMatchObject({ condition: 'cfna', on: false });
    expect(parseServiceCode('1428', codes)).toMatchObject({ condition: 'cfur', on: false });
    expect(parseServiceCode('1429', codes)).toEqual({ kind: 'dnd', on: true });
    expect(parseServiceCode('1430', codes)).toEqual({ kind: 'dnd', on: false });
    for (const d of ['14221', '14292001', '14300', '142']) expect(parseServiceCode(d, codes), d).toBeUndefined();
  });

  it('leaves other codes and numbers to their owners', () => {
    for (const d of ['1842003', '1862003', '*8', '*81', '**2002', '2002', '9001', '0312345678', '1410']) expect(parseServiceCode(d, codes), d).toBeUndefined();
  });

  it('follows configured codes', () => {
    const custom = buildConfig({ serviceCodes: { forwardUnconditionalOn: '*21', forwardUnconditionalOff: '#21', dndOn: '*78', dndOff: '*79' } }).serviceCodes;
    expect(parseServiceCode('*212003', custom)).toMatchObject({ condition: 'cfu', on: true, destination: '2003' });
    expect(parseServiceCode('#21', custom)).toMatchObject({ condition: 'cfu', on: false });
    expect(parseServiceCode('*78', custom)).toEqual({ kind: 'dnd', on: true });
    expect(parseServiceCode('1421', custom)).toBeUndefined();
  });
});

describe('ServiceCodes', () => {
  let dir: string;
  let db: Database;
  let entry: DialPlanEntry;
  let codes: ServiceCodes;
  let played: string[][];
  let outcomes: CallOutcome[];
  let forwarding: ForwardingService;
  const config = buildConfig();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hibiki-sc-'));
    db = openDatabase(dir);
    played = [];
    outcomes = [];
    const logger = pino({ level: 'silent' });
    forwarding = new ForwardingService({ db, config: () => config, now: Date.now, logger });
    forwarding.applyConfig(config);
    const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
    const prompts = new PromptCatalogue({ root: join(root, 'prompts'), mohRoot: join(root, 'moh'), languages: ['ja', 'en'] });
    codes = new ServiceCodes({ forwarding, prompts, config: () => config, logger });
    codes.register({ destination: (e: DialPlanEntry) => (entry = e) } as unknown as FeatureRegistry);
  });

  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Dial a code from an extension: the dial plan entry decides whether it is a service code; the call API
   * the code acts through is a recorder (answer succeeds, play records the files, end keeps the outcome).
   */
  async function dial(extension: string, dialled: string): Promise<boolean> {
    const ext = config.extensions.find((e) => e.number === extension)!;
    const origin = { kind: 'device' as const, extension: ext };
    const destination = entry.resolve(dialled, origin, config);
    if (!destination) return false;
    const media = { destroy: () => undefined } as unknown as MediaEngine;
    const call = new Call(`c-${dialled}`, 'internal', { number: ext.number }, dialled, destination.callee, media, new FakeClock(), pino({ level: 'silent' }));
    call.on('ended', (o) => o && outcomes.push(o));
    const leg = new Leg('caller', { number: ext.number }, ext.number);
    call.addLeg(leg);
    const session = {
      call,
      origin,
      presentation: 'present',
      log: call.log,
      config: () => config,
      answer: async () => true,
      play: (_leg: unknown, files: string[]) => {
        played.push(files);
        return { stop: () => undefined, done: Promise.resolve('completed') };
      },
      drop: () => undefined,
    } as unknown as CallApi;
    await destination.app.run(session, leg, destination.args);
    return true;
  }

  const lastPrompt = () => {
    const f = played.at(-1)![0];
    return `${basename(dirname(f))}/${basename(f)}`;
  };

  it("turns forwarding on with a confirmation, off with the cancelled prompt, in the caller's language", async () => {
    expect(await dial('2001', '14212003')).toBe(true);
    expect(forwarding.effective('2001').cfu).toBe('2003');
    expect(lastPrompt()).toBe('ja/setting-done.wav');
    expect(outcomes.at(-1)).toMatchObject({ feature: 'service_code', disposition: 'answered', dialled: '14212003' });
    expect(await dial('2001', '1422')).toBe(true);
    expect(forwarding.effective('2001').cfu).toBeUndefined();
    expect(lastPrompt()).toBe('ja/setting-cancelled.wav');
    // On again without a number: the stored destination.
    expect(await dial('2001', '1421')).toBe(true);
    expect(forwarding.effective('2001').cfu).toBe('2003');
    expect(await dial('2002', '1429')).toBe(true);
    expect(forwarding.effective('2002').dnd).toBe(true);
    expect(lastPrompt()).toBe('en/setting-done.wav');
    expect(await dial('2002', '1430')).toBe(true);
    expect(forwarding.effective('2002').dnd).toBe(false);
    expect(lastPrompt()).toBe('en/setting-cancelled.wav');
  });

  it('an invalid or missing destination plays the error prompt and changes nothing', async () => {
    // 1421 184110 would forward to 110 once the router strips 184; 9 and the park slot 9001 lead nowhere.
    for (const d of ['1421110', '14232001', '1425', '1421*5', '1421184110', '14211842002', '14219', '14219001']) {
      expect(await dial('2001', d)).toBe(true);
      expect(lastPrompt()).toBe('ja/forward-invalid.wav');
      expect(outcomes.at(-1)).toMatchObject({ feature: 'service_code', reason: expect.stringMatching(/^service code refused: /) });
    }
    expect(forwarding.effective('2001')).toEqual({ noAnswerTimeout: 20, dnd: false, source: 'normal' });
  });

  it('does not claim other numbers', async () => {
    expect(await dial('2001', '2002')).toBe(false);
    expect(await dial('2001', '14221')).toBe(false);
    expect(played).toEqual([]);
  });
});
