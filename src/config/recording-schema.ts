// Call recording settings (issue #15, F-CDR recording_path): who records (`record:` on extensions, groups
// and queues) and how (the top-level `recording:` section).
import { z } from 'zod';
import { int } from './schema-kit.js';

export const RECORD_POLICIES = ['always', 'on-demand', 'never'] as const;
export type RecordPolicy = (typeof RECORD_POLICIES)[number];

/** The `record:` field of an extension, a group or a queue. */
export const recordFieldSchema = z
  .enum(RECORD_POLICIES)
  .default('never')
  .describe(
    'Call recording: always (every answered call through it is recorded), on-demand (a local party starts/stops recording with the record code, *1), never (the code is refused). A call records when any of its parties says always.',
  );

export const recordingSchema = z
  .object({
    format: z.enum(['stereo', 'mono']).default('stereo').describe('stereo: caller left, callee right; mono: both parties mixed in one channel. 8 kHz 16-bit WAV either way.'),
    beep: z.boolean().default(true).describe('A short tone to both parties when recording starts or stops on demand.'),
    retentionDays: int(90, 0, 36_500, 'Recordings older than this many days are deleted by a daily purge; 0 keeps them forever.'),
  })
  .strict()
  .describe('Call recording (files under <data.dir>/recordings/YYYY/MM/DD/<call id>.wav, dates in tenant.timezone; the path is in the CDR recording_path).');

export type RecordingSettings = z.infer<typeof recordingSchema>;
