// The browser phone's two API calls (issue #16). The phone logs in as an extension with its SIP password,
// the secret SIP.js registers with, so it has no console account: `GET /api/phone/config` (open) says where
// hibiki's SIP WebSocket listens, and `POST /api/phone/history` returns that extension's call records when
// the extension and SIP password are right. Wrong passwords count towards the same locks as failed SIP
// digest logins (F-AUTH), so the page is no easier a way to guess a password than REGISTER.
import { randomBytes } from 'node:crypto';
import { sameSecret } from '../credentials.js';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import type { RouteModule } from '../route-types.js';
import { cdrOut } from './cdr-routes.js';

/** Rows of history the phone shows at most. */
const HISTORY_ROWS = 50;
/** What an unknown extension's password is compared with (random per process: it matches nothing anyone sends). */
const UNKNOWN_EXTENSION_PASSWORD = randomBytes(32).toString('hex');

export const phoneRoutes: RouteModule = (app, { ctx }) => {
  app.get(
    '/api/phone/config',
    {
      schema: {
        tags: ['phone'],
        summary: "Where the browser phone connects: the SIP domain and hibiki's SIP WebSocket listeners (no login needed).",
        response: {
          200: z.object({
            domain: z.string(),
            websockets: z.array(z.object({ transport: z.enum(['ws', 'wss']), host: z.string(), port: z.number() })),
            webrtc: z.boolean().describe('Whether the media engine can take WebRTC calls (media.rtpengine is configured).'),
          }),
        },
      },
    },
    async () => ({
      domain: ctx.currentConfig.tenant.domain,
      websockets: ctx.stack
        .listening()
        .filter((l): l is typeof l & { transport: 'ws' | 'wss' } => l.transport === 'ws' || l.transport === 'wss')
        .map((l) => ({ transport: l.transport, host: l.host, port: l.port })),
      webrtc: ctx.media.webrtc,
    }),
  );

  app.post(
    '/api/phone/history',
    {
      schema: {
        tags: ['phone'],
        summary: "The extension's latest calls, newest first, for the browser phone (extension and SIP password in the body).",
        body: z.object({ extension: z.string().min(1).max(64), password: z.string().min(1).max(256), limit: z.number().int().min(1).max(HISTORY_ROWS).optional() }),
        response: { 200: z.object({ rows: z.array(cdrOut) }) },
      },
    },
    async (req) => {
      const { extension, password } = req.body;
      const address = req.ip;
      const guard = ctx.guard;
      // The same decisions, events and counts as a REGISTER's digest check (registrar/authenticator.ts).
      const refused = (kind: string, status: 401 | 403, message: string): ApiError => {
        req.log.warn({ event: 'security', kind, user: extension, src: address, via: 'phone history' }, 'request refused');
        return new ApiError(status, message);
      };
      if (guard.isIpBlocked(address)) throw refused('ip-blocked', 403, 'this address is blocked for now');
      if (guard.refuses(extension, address, undefined)) throw refused('user-locked', 403, 'too many failed logins: locked for now');
      const ext = ctx.currentConfig.extensions.find((e) => e.number === extension);
      // Compared even for an unknown extension, so the answer takes as long either way.
      const right = sameSecret(password, ext?.password ?? UNKNOWN_EXTENSION_PASSWORD) && ext !== undefined;
      if (!ext || !right) {
        const outcome = guard.recordFailure(extension, address);
        const kind = ext ? 'bad-password' : 'unknown-user';
        // As for REGISTER: the failure that locks is answered like the requests after it.
        if (outcome.userLocked || outcome.ipBlocked) throw refused(kind, 403, 'too many failed logins: locked for now');
        throw refused(kind, 401, 'wrong extension or password');
      }
      if (ext.suspended) throw refused('suspended', 403, 'the extension is suspended');
      guard.recordSuccess(extension, address);
      const r = ctx.cdr.search({ party: extension, limit: req.body.limit ?? HISTORY_ROWS, offset: 0 });
      return { rows: r.rows.map((x) => ({ ...x, id: x.id ?? 0 })) };
    },
  );
};
