// Conference rooms in progress (issue #12, F-CONF): who is in each room, and kicking or muting a participant.
// The running Rooms carries a command out at once (the CLI's go through the database and wait for a poll).
import { z } from 'zod';
import { allow } from '../access.js';
import { notFound } from '../errors.js';
import type { RouteModule } from '../route-types.js';

const participantOut = z.object({
  id: z.string(),
  number: z.string(),
  name: z.string().nullable(),
  moderator: z.boolean(),
  muted: z.boolean(),
  joinedAt: z.string(),
  seconds: z.number().describe('Time in the room so far.'),
});

export const conferenceRoutes: RouteModule = (app, { ctx, audit }) => {
  app.get(
    '/api/conferences',
    {
      preHandler: allow('admin', 'supervisor'),
      schema: {
        tags: ['conferences'],
        summary: 'Rooms in progress with their participants.',
        response: { 200: z.array(z.object({ room: z.string(), name: z.string().nullable(), maxParticipants: z.number(), started: z.boolean(), participants: z.array(participantOut) })) },
      },
    },
    async () => {
      const now = ctx.clock.now();
      return ctx.rooms.rooms().map((r) => ({
        room: r.room.number,
        name: r.room.name ?? null,
        maxParticipants: r.room.maxParticipants,
        started: r.started,
        participants: r.participants.map((p) => ({
          id: p.id,
          number: p.number,
          name: p.name ?? null,
          moderator: p.moderator,
          muted: p.muted,
          joinedAt: new Date(p.joinedAt).toISOString(),
          seconds: Math.max(0, Math.floor((now - p.joinedAt) / 1000)),
        })),
      }));
    },
  );

  app.post(
    '/api/conferences/:room/participants/:id/:action',
    {
      preHandler: allow('admin'),
      schema: {
        tags: ['conferences'],
        summary: 'Kick (hang up), mute or unmute a participant.',
        params: z.object({ room: z.string(), id: z.string(), action: z.enum(['kick', 'mute', 'unmute']) }),
      },
    },
    async (req, reply) => {
      const { room, id, action } = req.params;
      if (!ctx.rooms.command(room, id, action)) throw notFound(`participant ${id} in conference ${room}`);
      audit(req, `conference.${action}`, `${room}/${id}`);
      return reply.status(204).send();
    },
  );
};
