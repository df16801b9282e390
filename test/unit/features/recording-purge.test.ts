// recording.retentionDays: the purge deletes recordings last written before the cut-off, then the day
// folders it emptied; 0 keeps everything; a missing recordings folder is nothing to do.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { purgeRecordings, startRecordingPurge } from '../../../src/features/recording/recording-purge.js';
import { captureLogger } from '../../support/logger.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-30T12:00:00Z');
let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));

function recording(rel: string, ageDays: number): string {
  const path = join(root, 'recordings', rel);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, 'RIFF');
  const t = (NOW - ageDays * DAY) / 1000;
  utimesSync(path, t, t);
  return path;
}

describe('recording purge', () => {
  it('deletes files older than retentionDays and the folders left empty, keeps the rest', async () => {
    root = mkdtempSync(join(tmpdir(), 'hibiki-purge-'));
    const old = recording('2026/03/01/a.wav', 121);
    const older = recording('2026/02/01/b.wav', 149);
    const recent = recording('2026/06/29/c.wav', 1);
    const edge = recording('2026/04/01/d.wav', 89);
    expect(await purgeRecordings(join(root, 'recordings'), 90, NOW)).toBe(2);
    expect(existsSync(old) || existsSync(older)).toBe(false);
    expect(existsSync(recent) && existsSync(edge)).toBe(true);
    expect(existsSync(join(root, 'recordings/2026/03'))).toBe(false);
    expect(existsSync(join(root, 'recordings/2026/06/29'))).toBe(true);
  });

  it('0 keeps recordings forever; no recordings folder is not an error', async () => {
    root = mkdtempSync(join(tmpdir(), 'hibiki-purge-'));
    const old = recording('2020/01/01/a.wav', 2000);
    expect(await purgeRecordings(join(root, 'recordings'), 0, NOW)).toBe(0);
    expect(existsSync(old)).toBe(true);
    expect(await purgeRecordings(join(root, 'nothing'), 90, NOW)).toBe(0);
  });

  it('runs at start with the retention read at run time', async () => {
    root = mkdtempSync(join(tmpdir(), 'hibiki-purge-'));
    const old = recording('2026/01/01/a.wav', 180);
    let days = 365;
    const purge = startRecordingPurge({ dir: join(root, 'recordings'), retentionDays: () => days, logger: captureLogger().logger, now: () => NOW });
    try {
      expect(await purge.run()).toBe(0);
      days = 90;
      expect(await purge.run()).toBe(1);
      expect(existsSync(old)).toBe(false);
    } finally {
      purge.stop();
    }
  });
});
