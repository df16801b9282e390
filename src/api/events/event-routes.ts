// GET /api/events (issue #12, F-EVENTS): the live event stream over a WebSocket, one JSON event per
// message. `?since=<seq>` replays the buffered events after that number first (with a `gap` message when
// some are gone), then a `ready` message, then live events. Agents and users see only the events of
// their own extension. A client that falls more than http.eventClientBufferKiB behind is closed (1013).
import websocket from '@fastify/websocket';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import type { Principal } from '../accounts.js';
import { principalOf } from '../access.js';
import type { RouteModule } from '../route-types.js';
import { every } from '../../util/clock.js';
import { EventHub, type HubEntry } from './hub.js';
import { connectSources } from './sources.js';

/** WebSocket close code 1013 "try again later": the client read too slowly and was dropped. */
const TOO_SLOW = 1013;

const query = z.object({
  token: z.string().optional().describe('The bearer token, for clients that cannot set the Authorization header (browsers).'),
  since: z.coerce.number().int().min(0).optional().describe('The last `seq` the client saw: the buffered events after it are sent first.'),
});

function sees(p: Principal, e: HubEntry): boolean {
  if (p.role === 'admin' || p.role === 'supervisor') return true;
  return p.extension !== undefined && e.concerns.includes(p.extension);
}

/** How often an open stream's token is checked again (a logout ends the stream within this time). */
const SESSION_RECHECK_MS = 5000;
/** WebSocket close code 1008: the session behind the stream ended. */
const POLICY_VIOLATION = 1008;

export const eventRoutes: RouteModule = async (app, deps) => {
  const hub = new EventHub(
    () => deps.settings().eventBuffer,
    () => deps.ctx.clock.now(),
  );
  const disconnect = connectSources(hub, deps.ctx, deps.accounts);
  app.addHook('onClose', async () => disconnect());
  await app.register(websocket, { options: { maxPayload: 4096 } });
  // An upgrade refused with an HTTP answer (401) leaves its socket outside the HTTP server's keep-alive
  // handling: closed here, or a client that keeps it open would hold up the server's stop.
  app.addHook('onResponse', async (req, reply) => {
    if (req.raw.headers.upgrade !== undefined && reply.statusCode !== 101) req.raw.socket.destroy();
  });

  app.get(
    '/api/events',
    {
      websocket: true,
      schema: {
        tags: ['events'],
        summary: 'Live events over a WebSocket (registration, call, park, queue, agent, config, security); see docs/api-events.md',
        querystring: query,
      },
    },
    (socket: WebSocket, req) => {
      let principal = principalOf(req);
      const log = req.log.child({ user: principal.username });
      const limit = () => deps.settings().eventClientBufferKiB * 1024;
      let open = true;
      const send = (json: string): void => {
        if (!open) return;
        if (socket.bufferedAmount + json.length > limit()) {
          open = false;
          log.warn({ buffered: socket.bufferedAmount }, 'event stream client too slow; disconnected');
          socket.close(TOO_SLOW, 'too slow: reconnect with ?since=<last seq>');
          return;
        }
        socket.send(json);
      };
      // The backlog, `ready` and the subscription happen in one synchronous run: no event can be
      // published in between, so none is lost or sent twice.
      const since = (req.query as z.infer<typeof query>).since;
      if (since !== undefined) {
        const backlog = hub.after(since);
        if (backlog.gap) send(JSON.stringify({ type: 'gap', ...backlog.gap }));
        for (const e of backlog.entries) if (sees(principal, e)) send(e.json);
      }
      send(JSON.stringify({ type: 'ready', last: hub.last }));
      const off = hub.subscribe((e) => {
        if (sees(principal, e)) send(e.json);
      });
      // The token was checked when the stream opened; a logout, password change, revoked token, changed role
      // or deleted account must not leave the stream running, so it is looked at again every few seconds.
      const recheck = every(deps.ctx.clock, SESSION_RECHECK_MS, () => {
        const now = deps.accounts.recheck(principal);
        if (now) {
          principal = now;
          return;
        }
        open = false;
        socket.close(POLICY_VIOLATION, 'the session has ended: log in again');
      });
      // Anything a client sends is ignored: the stream is one-way.
      socket.on('close', () => {
        open = false;
        off();
        recheck.cancel();
      });
    },
  );
};
