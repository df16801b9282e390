import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WavFormatError, buildWav, parseWav, readWavFile } from '../../../src/media/builtin/wav.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hibiki-wav-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function expectFormatError(fn: () => unknown, actual: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WavFormatError);
    expect((err as WavFormatError).actual).toBe(actual);
    expect((err as Error).message).toBe(`x.wav: expected 8000 Hz mono 16-bit PCM WAV, got ${actual}`);
    return;
  }
  throw new Error('expected a WavFormatError');
}

describe('parseWav', () => {
  it('returns the samples of an 8 kHz mono 16-bit PCM file', () => {
    const samples = Int16Array.of(0, 1, -1, 32767, -32768);
    expect(parseWav(buildWav(samples), 'x.wav')).toEqual(samples);
  });

  it('skips unknown chunks and tolerates an oversize data length', () => {
    const wav = buildWav(Int16Array.of(5, 6));
    const list = Buffer.from('LIST\x03\x00\x00\x00abc\x00', 'latin1'); // odd size: padded to even
    const withList = Buffer.concat([wav.subarray(0, 36), list, wav.subarray(36)]);
    withList.writeUInt32LE(0xffffffff, 36 + list.length + 4);
    expect(parseWav(withList, 'x.wav')).toEqual(Int16Array.of(5, 6));
  });

  it('names the actual format of a file it refuses', () => {
    expectFormatError(() => parseWav(buildWav(Int16Array.of(0), 44100, 2), 'x.wav'), '44100 Hz stereo 16-bit PCM');
    expectFormatError(() => parseWav(buildWav(Int16Array.of(0), 16000), 'x.wav'), '16000 Hz mono 16-bit PCM');
    const ulaw = buildWav(Int16Array.of(0));
    ulaw.writeUInt16LE(7, 20);
    ulaw.writeUInt16LE(8, 34);
    expectFormatError(() => parseWav(ulaw, 'x.wav'), '8000 Hz mono 8-bit µ-law');
    expectFormatError(() => parseWav(Buffer.from('ID3 not a wave file'), 'x.wav'), 'not a RIFF/WAVE file');
    expectFormatError(() => parseWav(buildWav(Int16Array.of(0)).subarray(0, 36), 'x.wav'), 'no data chunk');
  });

  it('reads a file from disk and reports a missing one by name', async () => {
    const file = join(dir, 'ok.wav');
    await writeFile(file, buildWav(Int16Array.of(1, 2, 3)));
    expect(await readWavFile(file)).toEqual(Int16Array.of(1, 2, 3));
    await expect(readWavFile(join(dir, 'missing.wav'))).rejects.toThrow(/missing\.wav: .*ENOENT/);
    const bad = join(dir, 'bad.wav');
    await writeFile(bad, buildWav(Int16Array.of(0), 22050));
    await expect(readWavFile(bad)).rejects.toThrow(`${bad}: expected 8000 Hz mono 16-bit PCM WAV, got 22050 Hz mono 16-bit PCM`);
  });
});
