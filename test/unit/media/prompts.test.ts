import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { buildWav, parseWav } from '../../../src/media/builtin/wav.js';
import {
  DIGIT_PROMPTS,
  PromptCatalogue,
  PromptNotFoundError,
  REQUIRED_PROMPTS,
  SPOKEN_PROMPTS,
  TONE_PROMPTS,
  VOICEMAIL_PROMPTS,
  QUEUE_PROMPTS,
  CONFERENCE_PROMPTS,
  type PromptLanguage,
} from '../../../src/media/prompts.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const PROMPTS = join(REPO, 'prompts');
const MOH = join(REPO, 'moh');
const LANGUAGES: PromptLanguage[] = ['ja', 'en'];

const shipped = (): PromptCatalogue => new PromptCatalogue({ root: PROMPTS, mohRoot: MOH, languages: LANGUAGES });

const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A scratch prompt tree: `files` maps a path relative to it to the bytes to write there. */
function tree(files: Record<string, Uint8Array | string>): { root: string; mohRoot: string } {
  const base = mkdtempSync(join(tmpdir(), 'hibiki-prompts-test-'));
  temps.push(base);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(base, rel, '..'), { recursive: true });
    writeFileSync(join(base, rel), content);
  }
  return { root: join(base, 'prompts'), mohRoot: join(base, 'moh') };
}

/** 100 ms of a 440 Hz tone as a valid prompt. */
const good = (): Buffer => buildWav(Int16Array.from({ length: 800 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000))));

/** An 8 kHz mono WAV with 8-bit unsigned samples (valid RIFF, wrong sample size). */
function eightBit(): Buffer {
  const data = Buffer.alloc(800, 128);
  const head = buildWav(new Int16Array(0));
  head.writeUInt32LE(36 + data.length, 4);
  head.writeUInt32LE(8000, 28); // byte rate
  head.writeUInt16LE(1, 32); // block align
  head.writeUInt16LE(8, 34); // bits per sample
  head.writeUInt32LE(data.length, 40);
  return Buffer.concat([head, data]);
}

/** A complete valid set in one language folder plus tones and a default MOH class. */
function completeSet(language: PromptLanguage): Record<string, Buffer> {
  const files: Record<string, Buffer> = { 'moh/default/1.wav': good() };
  for (const n of [...DIGIT_PROMPTS, ...SPOKEN_PROMPTS, ...VOICEMAIL_PROMPTS, ...QUEUE_PROMPTS, ...CONFERENCE_PROMPTS]) files[`prompts/${language}/${n}.wav`] = good();
  for (const n of TONE_PROMPTS) files[`prompts/tones/${n}.wav`] = good();
  return files;
}

function rms(samples: Int16Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += samples[i]! * samples[i]!;
  return Math.sqrt(sum / (to - from));
}

describe('shipped prompt sets and MOH', () => {
  it('load with no error', () => {
    expect(shipped().load()).toEqual([]);
  });

  it('have every spoken prompt in both languages, in that language folder', () => {
    const catalogue = shipped();
    catalogue.load();
    for (const language of LANGUAGES) {
      for (const name of [...DIGIT_PROMPTS, ...SPOKEN_PROMPTS]) {
        const file = catalogue.file(name, language);
        expect(file).toBe(join(PROMPTS, language, `${name}.wav`));
        const seconds = parseWav(readFileSync(file), file).length / 8000;
        // A digit is a word, a phrase is a sentence: anything outside these bounds means a generation fault.
        const [min, max] = DIGIT_PROMPTS.includes(name as (typeof DIGIT_PROMPTS)[number]) ? [0.2, 1.5] : [0.5, 6];
        expect(seconds, `${language}/${name}`).toBeGreaterThan(min);
        expect(seconds, `${language}/${name}`).toBeLessThan(max);
      }
    }
  });

  it('have the tones in the shared tones folder for either language', () => {
    const catalogue = shipped();
    for (const name of TONE_PROMPTS) {
      expect(catalogue.file(name, 'ja')).toBe(join(PROMPTS, 'tones', `${name}.wav`));
      expect(catalogue.file(name, 'en')).toBe(join(PROMPTS, 'tones', `${name}.wav`));
    }
  });

  it('have a ringback of one Japanese cycle (1 s on, 2 s off) and a busy tone of 0.5 s on, 0.5 s off', () => {
    const catalogue = shipped();
    const ringback = parseWav(readFileSync(catalogue.file('ringback', 'ja')), 'ringback');
    expect(ringback.length).toBe(3 * 8000);
    expect(rms(ringback, 100, 7900)).toBeGreaterThan(3000);
    expect(rms(ringback, 8100, 24000)).toBe(0);
    const busy = parseWav(readFileSync(catalogue.file('busy-tone', 'ja')), 'busy');
    expect(busy.length).toBe(8000);
    expect(rms(busy, 100, 3900)).toBeGreaterThan(3000);
    expect(rms(busy, 4100, 8000)).toBe(0);
  });

  // Voicemail (F-VM) brought its menus and the number, day and hour words that counts and dates are spoken
  // with: about 4 minutes of speech in two languages, hence a budget of 8 MB rather than the earlier 2 MB.
  it('have a default MOH of about 30 s, and the whole set stays under 8 MB', () => {
    const catalogue = shipped();
    const files = catalogue.moh();
    expect(files.length).toBeGreaterThan(0);
    const seconds = files.reduce((n, f) => n + parseWav(readFileSync(f), f).length / 8000, 0);
    expect(seconds).toBeGreaterThanOrEqual(25);
    expect(seconds).toBeLessThanOrEqual(35);
    const all = [...LANGUAGES.flatMap((l) => REQUIRED_PROMPTS.map((n) => catalogue.file(n, l))), ...files];
    const bytes = [...new Set(all)].reduce((n, f) => n + statSync(f).size, 0);
    expect(bytes).toBeLessThan(8 * 1024 * 1024);
  });
});

describe('PromptCatalogue.load validation', () => {
  it('names the file and its actual format for 16 kHz, stereo, 8-bit and non-WAV files', () => {
    const files = completeSet('ja');
    const { root, mohRoot } = tree({
      ...files,
      'prompts/en/park-full.wav': buildWav(new Int16Array(1600), 16000),
      'prompts/en/park-empty.wav': buildWav(new Int16Array(1600), 8000, 2),
      'prompts/en/invalid-code.wav': eightBit(),
      'moh/default/2.wav': 'not audio at all',
    });
    const errors = new PromptCatalogue({ root, mohRoot, languages: LANGUAGES }).load();
    const byFile = new Map(errors.map((e) => [basename(e.file), e]));
    expect(errors).toHaveLength(4);
    expect(byFile.get('park-full.wav')).toMatchObject({ kind: 'format', actual: '16000 Hz mono 16-bit PCM' });
    expect(byFile.get('park-empty.wav')).toMatchObject({ kind: 'format', actual: '8000 Hz stereo 16-bit PCM' });
    expect(byFile.get('invalid-code.wav')).toMatchObject({ kind: 'format', actual: '8000 Hz mono 8-bit PCM' });
    expect(byFile.get('2.wav')).toMatchObject({ kind: 'format', actual: 'not a RIFF/WAVE file' });
    const bad = byFile.get('park-full.wav')!;
    expect(bad.file).toBe(join(root, 'en', 'park-full.wav'));
    expect(bad.message).toContain(join(root, 'en', 'park-full.wav'));
    expect(bad.message).toContain('16000 Hz mono 16-bit PCM');
  });

  it('never hands out a file that failed validation', () => {
    const { root, mohRoot } = tree({ ...completeSet('ja'), 'prompts/en/park-full.wav': buildWav(new Int16Array(1600), 16000) });
    const catalogue = new PromptCatalogue({ root, mohRoot, languages: LANGUAGES });
    catalogue.load();
    expect(catalogue.file('park-full', 'en')).toBe(join(root, 'ja', 'park-full.wav'));
  });

  it('reports a required prompt that no folder provides', () => {
    const files = completeSet('ja');
    delete files['prompts/ja/7.wav'];
    delete files['prompts/tones/busy-tone.wav'];
    const { root, mohRoot } = tree(files);
    const errors = new PromptCatalogue({ root, mohRoot, languages: LANGUAGES }).load();
    expect(errors.map((e) => [e.kind, e.message.match(/"(.+)"/)?.[1]])).toEqual([
      ['missing', '7'],
      ['missing', 'busy-tone'],
    ]);
  });

  it('reports a missing prompt folder once, and a missing default MOH class', () => {
    const { root, mohRoot } = tree({ 'moh/other/1.wav': good() });
    const errors = new PromptCatalogue({ root, mohRoot, languages: LANGUAGES }).load();
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatchObject({ kind: 'missing', file: root });
    expect(errors[1]).toMatchObject({ kind: 'missing', file: join(mohRoot, 'default') });
  });
});

describe('PromptCatalogue.file fallbacks', () => {
  it('takes a prompt missing in the caller language from the other language', () => {
    const files = completeSet('ja');
    files['prompts/en/parked-at.wav'] = good();
    const { root, mohRoot } = tree(files);
    const catalogue = new PromptCatalogue({ root, mohRoot, languages: LANGUAGES });
    expect(catalogue.load()).toEqual([]);
    expect(catalogue.file('parked-at', 'en')).toBe(join(root, 'en', 'parked-at.wav'));
    expect(catalogue.file('park-full', 'en')).toBe(join(root, 'ja', 'park-full.wav'));
    expect(catalogue.file('parked-at', 'ja')).toBe(join(root, 'ja', 'parked-at.wav'));
  });

  it('falls back to a tone for a spoken prompt no language has, and throws for a digit', () => {
    const files = completeSet('ja');
    delete files['prompts/ja/park-full.wav'];
    delete files['prompts/ja/setting-done.wav'];
    delete files['prompts/ja/3.wav'];
    const { root, mohRoot } = tree(files);
    const catalogue = new PromptCatalogue({ root, mohRoot, languages: LANGUAGES });
    catalogue.load();
    expect(catalogue.file('park-full', 'ja')).toBe(join(root, 'tones', 'error-tone.wav'));
    expect(catalogue.file('setting-done', 'en')).toBe(join(root, 'tones', 'confirm-tone.wav'));
    expect(() => catalogue.file('3', 'ja')).toThrow(PromptNotFoundError);
  });

  it('gives the routing-feature prompts a confirmation or error tone when a trimmed set lacks them', () => {
    const files = completeSet('ja');
    const names = ['setting-cancelled', 'forward-invalid', 'pickup-none', 'anonymous-rejected', 'call-barred'] as const;
    for (const n of names) delete files[`prompts/ja/${n}.wav`];
    const { root, mohRoot } = tree(files);
    const catalogue = new PromptCatalogue({ root, mohRoot, languages: LANGUAGES });
    expect(catalogue.load()).toEqual([]);
    expect(catalogue.file('setting-cancelled', 'ja')).toBe(join(root, 'tones', 'confirm-tone.wav'));
    for (const n of names.slice(1)) expect(catalogue.file(n, 'en')).toBe(join(root, 'tones', 'error-tone.wav'));
  });
});

describe('PromptCatalogue.digits', () => {
  it('maps a park slot to its digit files in order', () => {
    const catalogue = shipped();
    expect(catalogue.digits('9001', 'ja')).toEqual(['9', '0', '0', '1'].map((d) => join(PROMPTS, 'ja', `${d}.wav`)));
    expect(catalogue.digits('90210', 'en')).toEqual(['9', '0', '2', '1', '0'].map((d) => join(PROMPTS, 'en', `${d}.wav`)));
  });

  it('refuses anything but digits', () => {
    const catalogue = shipped();
    expect(() => catalogue.digits('9*01', 'ja')).toThrow(RangeError);
    expect(() => catalogue.digits('', 'ja')).toThrow(RangeError);
  });
});

describe('PromptCatalogue.moh', () => {
  it('plays the class folder in natural file-name order, WAV files only', () => {
    const { root, mohRoot } = tree({
      ...completeSet('ja'),
      'moh/jazz/10-c.wav': good(),
      'moh/jazz/2-b.wav': good(),
      'moh/jazz/1-a.WAV': good(),
      'moh/jazz/README.txt': 'licence',
    });
    const catalogue = new PromptCatalogue({ root, mohRoot, languages: LANGUAGES });
    expect(catalogue.load()).toEqual([]);
    expect(catalogue.moh('jazz')).toEqual(['1-a.WAV', '2-b.wav', '10-c.wav'].map((f) => join(mohRoot, 'jazz', f)));
    expect(catalogue.moh()).toEqual([join(mohRoot, 'default', '1.wav')]);
    expect(catalogue.mohClassNames()).toEqual(['default', 'jazz']);
  });

  it('skips an invalid file of a class and throws for an unknown class or a path outside the MOH folder', () => {
    const { root, mohRoot } = tree({
      ...completeSet('ja'),
      'moh/jazz/1.wav': good(),
      'moh/jazz/2.wav': buildWav(new Int16Array(100), 44100),
      'moh/jazz/3.wav': good(),
    });
    const catalogue = new PromptCatalogue({ root, mohRoot, languages: LANGUAGES });
    expect(catalogue.load().map((e) => e.file)).toEqual([join(mohRoot, 'jazz', '2.wav')]);
    expect(catalogue.moh('jazz')).toEqual([join(mohRoot, 'jazz', '1.wav'), join(mohRoot, 'jazz', '3.wav')]);
    expect(() => catalogue.moh('rock')).toThrow(PromptNotFoundError);
    expect(() => catalogue.moh('../prompts')).toThrow(PromptNotFoundError);
  });
});
