// YAML schema of monitoring (F-SPY, issue #15): who may listen to, whisper to or barge into whose calls.
// The codes (995 / 994 / 996) are service codes (serviceCodes.spyMonitor, spyWhisper, spyBarge).
import { z } from 'zod';

const number = z
  .union([z.string(), z.number().int().nonnegative()], { error: 'a number is a string of digits' })
  .transform((v) => String(v))
  .pipe(z.string().regex(/^[0-9]{2,15}$/, 'a number is 2–15 digits'));

export const spySchema = z
  .object({
    rules: z
      .array(
        z
          .object({
            supervisor: number.describe('An extension, or a group or queue whose members are supervisors.'),
            targets: z
              .array(z.union([z.literal('*'), number]))
              .min(1)
              .describe("Whom they may monitor: extensions, groups or queues (their members), or '*' for everyone."),
          })
          .strict(),
      )
      .default([])
      .describe('Who may monitor whom; nobody may without a rule (agents cannot, supervisors can).'),
    beep: z.boolean().default(false).describe('The monitored parties hear a tone when monitoring starts (spyTone); off: they hear nothing of it.'),
  })
  .strict()
  .describe('Monitor, whisper and barge (F-SPY).');

export type SpyConfig = z.infer<typeof spySchema>;
