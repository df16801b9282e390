// YAML schema of conference rooms (F-CONF, issue #15): `conference:` with its rooms (numbers 9201–9203 by
// default), each with an optional PIN and moderator PIN, a participant limit, the count announcement and
// music while alone, and the keys a participant presses during the conference. Number clashes with the rest
// of the file are checked in checkConferenceRooms, called once from schema.ts.
import { z } from 'zod';
import { int, type IssueSink } from './schema-kit.js';

const digits = (pattern: RegExp, message: string) =>
  z
    .union([z.string(), z.number().int().nonnegative()], { error: message })
    .transform((v) => String(v))
    .pipe(z.string().regex(pattern, message));

const roomSchema = z
  .object({
    number: digits(/^[2-9][0-9]{1,14}$/, 'a room number is 2–15 digits and starts with 2–9').describe('Number dialled to join the room; unique across every local number.'),
    name: z.string().min(1).optional().describe('Room name (any UTF-8), for logs and the CLI.'),
    pin: digits(/^[0-9]{1,12}$/, 'a PIN is 1–12 digits')
      .optional()
      .describe('Participants enter it (followed by #) before joining. Unset: no PIN.'),
    moderatorPin: digits(/^[0-9]{1,12}$/, 'a PIN is 1–12 digits')
      .optional()
      .describe('Entering this PIN joins as moderator; while no moderator has joined, participants wait with music and do not hear each other. Unset: the room starts with its first participant.'),
    maxParticipants: int(10, 2, 100, 'Participants the room takes at once; one more hears "the conference is full".'),
    announceCount: z.boolean().default(true).describe('Tell a joining participant how many are in the room (or that they are alone).'),
    musicWhileAlone: z.boolean().default(true).describe('A participant alone in the room hears music on hold.'),
    language: z.enum(['ja', 'en']).default('ja').describe('Language of the prompts callers hear (an extension\u2019s own language wins).'),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.pin !== undefined && r.pin === r.moderatorPin) ctx.addIssue({ code: 'custom', path: ['moderatorPin'], message: 'the moderator PIN must differ from the PIN' });
  });

const key = z.enum(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#']);

export const conferenceSchema = z
  .object({
    rooms: z
      .array(roomSchema)
      .max(1000)
      .default([{ number: '9201' }, { number: '9202' }, { number: '9203' }].map((r) => roomSchema.parse(r)))
      .describe('The meet-me rooms (F-CONF); default 9201, 9202 and 9203 without PIN.'),
    keys: z
      .object({
        mute: key.default('1').describe('Mute or unmute myself.'),
        quieter: key.default('4').describe('Turn down what I hear (3 dB a press, down to −12 dB).'),
        louder: key.default('6').describe('Turn up what I hear (3 dB a press, up to +12 dB).'),
        count: key.default('0').describe('Say how many are in the room.'),
        leave: key.default('#').describe('Leave the conference.'),
      })
      .strict()
      .prefault({})
      .describe('Keys a participant presses during the conference (quote * and # in YAML).'),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Map<string, string>();
    for (const [name, k] of Object.entries(c.keys)) {
      const other = seen.get(k);
      if (other !== undefined) ctx.addIssue({ code: 'custom', path: ['keys', name], message: `key ${k} is also ${other}` });
      seen.set(k, name);
    }
  })
  .describe('Conference rooms (F-CONF).');

export type ConferenceConfig = z.infer<typeof conferenceSchema>;
export type RoomConfig = ConferenceConfig['rooms'][number];

/** Cross-checks of the rooms against the rest of the file: duplicate numbers, clashes with other local numbers and codes. */
export function checkConferenceRooms(c: { rooms: readonly RoomConfig[]; taken: ReadonlyMap<string, string>; codes: ReadonlyArray<{ code: string; name: string }> }, ctx: IssueSink): void {
  const index = new Map<string, number>();
  c.rooms.forEach((r, i) => {
    const path = ['conference', 'rooms', i, 'number'];
    const first = index.get(r.number);
    if (first !== undefined) ctx.addIssue({ code: 'custom', path, params: { conflictWith: ['conference', 'rooms', first, 'number'] }, message: `conference room ${r.number} is defined twice` });
    else index.set(r.number, i);
    const clash = c.taken.get(r.number);
    if (clash !== undefined) ctx.addIssue({ code: 'custom', path, message: `conference room ${r.number} clashes with ${clash}` });
    for (const { code, name } of c.codes) {
      if (r.number.startsWith(code) || code.startsWith(r.number)) ctx.addIssue({ code: 'custom', path, message: `conference room ${r.number} overlaps ${name} ${code}` });
    }
  });
}
