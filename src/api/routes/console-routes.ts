// The web console (issue #12, F-WEB) and the browser phone (issue #16, /phone/): static files served from the
// package itself, so both work with no internet access. The folder is found relative to this module, which is the same from src/ (tests) and
// from dist/ (the build copies src/api/web there).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { RouteModule } from '../route-types.js';

/** Everything the console loads comes from this server; the event stream is the same origin over ws(s). */
export const consoleCsp = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  // Voicemail playback fetches the WAV with the bearer token and plays it from a blob URL.
  "media-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The browser phone also connects to hibiki's SIP WebSocket, which listens on a port of its own. */
export const phoneCsp = consoleCsp.replace("connect-src 'self'", "connect-src 'self' ws: wss:");

export const consoleRoot = fileURLToPath(new URL('../web/', import.meta.url));

/** SIP.js's ES modules, served to the browser phone as they are in the package (no bundler, no CDN). */
const sipJsRoot = dirname(fileURLToPath(import.meta.resolve('sip.js')));

export const consoleRoutes: RouteModule = async (app) => {
  await app.register(fastifyStatic, {
    root: consoleRoot,
    prefix: '/',
    index: ['index.html'],
    // The API's own 404 handler answers unknown paths; the console routes with #fragments, so one page serves all.
    wildcard: false,
    setHeaders: (reply, path) => {
      // no-cache: a new release must not run against stale modules from the browser's cache.
      const csp = path.startsWith(join(consoleRoot, 'phone')) ? phoneCsp : consoleCsp;
      reply.headers({ 'content-security-policy': csp, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cache-control': 'no-cache' });
    },
  });
  await app.register(fastifyStatic, {
    root: sipJsRoot,
    prefix: '/vendor/sip.js/',
    wildcard: false,
    decorateReply: false,
    setHeaders: (reply) => {
      reply.headers({ 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' });
    },
  });
};
