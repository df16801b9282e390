// Voicemail messages and the PIN (issue #12, F-VM). Messages are the rows the voicemail feature writes, with
// their WAV files under <data.dir>/voicemail/; a status change or deletion is announced on mailboxEvents as
// the phone menu does, so message-waiting lamps follow at once. The PIN is stored where a PIN changed by
// phone is (VoicemailBoxStore), so voicemail and hot desk both use it.
import { readFile, unlink } from 'node:fs/promises';
import { resolve, join } from 'node:path';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { mailbox } from '../../features/voicemail/mailbox.js';
import { pinProblem } from '../../rules/pin.js';
import { VoicemailBoxStore } from '../../store/voicemail-box-store.js';
import type { VoicemailMessage } from '../../store/voicemail-store.js';
import { ownExtension } from '../access.js';
import { badRequest, notFound } from '../errors.js';
import type { RouteModule } from '../route-types.js';

const messageOut = z.object({
  id: z.number(),
  status: z.enum(['new', 'saved']),
  receivedAt: z.string(),
  caller: z.string(),
  callerName: z.string().nullable(),
  seconds: z.number().describe('Length of the recording, to 0.1 s.'),
});

const boxParams = z.object({ box: z.string() });
const messageParams = z.object({ box: z.string(), id: z.coerce.number().int().positive() });

function messageView(m: VoicemailMessage): z.infer<typeof messageOut> {
  return {
    id: m.id,
    status: m.status,
    receivedAt: new Date(m.receivedAt).toISOString(),
    caller: m.callerNumber,
    callerName: m.callerName ?? null,
    seconds: Math.round(m.durationMs / 100) / 10,
  };
}

export const voicemailRoutes: RouteModule = (app, { ctx, audit }) => {
  const dir = () => resolve(ctx.currentConfig.data.dir, 'voicemail');

  /** The box must exist; a user reaches only their own extension's box, a shared box is for admins (supervisors read). */
  const box = (req: FastifyRequest, number: string, write: boolean): void => {
    ownExtension(req, number, write ? ['admin'] : ['admin', 'supervisor']);
    if (!mailbox(ctx.currentConfig, number)) throw notFound(`voicemail box ${number}`);
  };
  const message = (boxNumber: string, id: number): VoicemailMessage => {
    const m = ctx.voicemailStore.get(id);
    if (!m || m.box !== boxNumber) throw notFound(`message ${id} in voicemail box ${boxNumber}`);
    return m;
  };
  const changed = (boxNumber: string) => ctx.mailboxEvents.emit('changed', boxNumber, ctx.voicemailStore.counts(boxNumber));

  app.get(
    '/api/voicemail/:box/messages',
    { schema: { tags: ['voicemail'], summary: "A box's messages: new first, then saved, each oldest first.", params: boxParams, response: { 200: z.array(messageOut) } } },
    async (req) => {
      box(req, req.params.box, false);
      return ctx.voicemailStore.list(req.params.box).map(messageView);
    },
  );

  app.get('/api/voicemail/:box/messages/:id/audio', { schema: { tags: ['voicemail'], summary: 'The recording (audio/wav).', params: messageParams } }, async (req, reply) => {
    box(req, req.params.box, false);
    const m = message(req.params.box, req.params.id);
    let bytes: Buffer;
    try {
      bytes = await readFile(join(dir(), m.file));
    } catch {
      throw notFound(`the recording of message ${m.id}`);
    }
    return reply.type('audio/wav').header('content-disposition', `attachment; filename="voicemail-${m.box}-${m.id}.wav"`).send(bytes);
  });

  app.patch(
    '/api/voicemail/:box/messages/:id',
    { schema: { tags: ['voicemail'], summary: 'Mark a message new or saved.', params: messageParams, body: z.object({ status: z.enum(['new', 'saved']) }), response: { 200: messageOut } } },
    async (req) => {
      box(req, req.params.box, true);
      const m = message(req.params.box, req.params.id);
      if (m.status !== req.body.status) {
        ctx.voicemailStore.setStatus(m.id, req.body.status);
        changed(m.box);
      }
      audit(req, 'voicemail.status', `${m.box}/${m.id}`, { status: req.body.status });
      return messageView({ ...m, status: req.body.status });
    },
  );

  app.delete('/api/voicemail/:box/messages/:id', { schema: { tags: ['voicemail'], summary: 'Delete a message and its recording.', params: messageParams } }, async (req, reply) => {
    box(req, req.params.box, true);
    const m = message(req.params.box, req.params.id);
    // The row first: a file without a row is harmless, a row without its file is a message that cannot play.
    const removed = ctx.voicemailStore.remove(m.id);
    if (removed) {
      await unlink(join(dir(), removed.file)).catch((err: unknown) => ctx.logger.warn({ err, file: removed.file }, 'voicemail file not removed'));
      changed(m.box);
    }
    audit(req, 'voicemail.delete', `${m.box}/${m.id}`, { caller: m.callerNumber });
    return reply.status(204).send();
  });

  app.put(
    '/api/extensions/:number/pin',
    {
      schema: {
        tags: ['voicemail'],
        summary: 'Set the PIN of an extension (voicemail and hot desk), as the voicemail menu does.',
        params: z.object({ number: z.string() }),
        body: z.object({ pin: z.string().max(20) }),
      },
    },
    async (req, reply) => {
      const number = req.params.number;
      ownExtension(req, number, ['admin']);
      const e = ctx.currentConfig.extensions.find((x) => x.number === number);
      if (!e) throw notFound(`extension ${number}`);
      const problem = pinProblem(req.body.pin);
      if (problem) throw badRequest(problem, 'pin');
      new VoicemailBoxStore(ctx.db).setPin(number, req.body.pin, e.pin, ctx.clock.now());
      ctx.logger.info({ event: 'voicemail', box: number, by: 'api' }, 'voicemail PIN changed');
      audit(req, 'pin.set', number, { pin: req.body.pin });
      return reply.status(204).send();
    },
  );
};
