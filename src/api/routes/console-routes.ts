// The web console (issue #12, F-WEB): static files served from the package itself, so the console works with
// no internet access. The folder is found relative to this module, which is the same from src/ (tests) and
// from dist/ (the build copies src/api/web there).
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

export const consoleRoot = fileURLToPath(new URL('../web/', import.meta.url));

export const consoleRoutes: RouteModule = async (app) => {
  await app.register(fastifyStatic, {
    root: consoleRoot,
    prefix: '/',
    index: ['index.html'],
    // The API's own 404 handler answers unknown paths; the console routes with #fragments, so one page serves all.
    wildcard: false,
    setHeaders: (reply) => {
      // no-cache: a new release must not run against stale modules from the browser's cache.
      reply.headers({ 'content-security-policy': consoleCsp, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cache-control': 'no-cache' });
    },
  });
};
