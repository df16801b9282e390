// F-AUDIO: prompt and music-on-hold files are validated when hibiki starts; a file in the wrong
// format stops the start with an error naming the file and its actual format.
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startHibiki } from '../support/hibiki.js';

function wav(sampleRate: number, channels: number, seconds = 0.1): Buffer {
  const samples = Math.round(sampleRate * seconds) * channels;
  const b = Buffer.alloc(44 + samples * 2);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + samples * 2, 4);
  b.write('WAVE', 8);
  b.write('fmt ', 12);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(channels, 22);
  b.writeUInt32LE(sampleRate, 24);
  b.writeUInt32LE(sampleRate * channels * 2, 28);
  b.writeUInt16LE(channels * 2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(samples * 2, 40);
  return b;
}

describe('prompt files', () => {
  it('refuses to start with a prompt in the wrong format, naming the file and its format', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hibiki-prompts-'));
    cpSync(fileURLToPath(new URL('../../prompts', import.meta.url)), dir, { recursive: true });
    const bad = join(dir, 'en', 'park-full.wav');
    writeFileSync(bad, wav(16000, 2));
    await expect(startHibiki({ config: { prompts: { dir } } })).rejects.toThrow(/park-full\.wav.*16000 Hz stereo/s);
  });

  it('starts with the shipped prompts', async () => {
    const h = await startHibiki();
    expect(h.server.prompts.digits('9001', 'ja')).toHaveLength(4);
    await h.stop();
  });
});
