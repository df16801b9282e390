// The media engine the config asks for: the built-in engine alone, or rtpengine in front of it (for WebRTC
// legs only, "mixed", or for every leg), with a local rtpengine launched and supervised when asked.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AUTO_MEDIA_WORKERS_CAP } from '../config/call-schema.js';
import type { HibikiConfig } from '../config/schema.js';
import { BuiltinMediaEngine } from './builtin/engine.js';
import type { MediaEngine } from './engine.js';
import { RtpengineMediaEngine } from './rtpengine/engine.js';
import { RtpengineLauncher } from './rtpengine/launcher.js';
import { NgClient } from './rtpengine/ng-client.js';

export interface MediaEngineContext {
  /** Address the built-in engine writes into SDP. */
  address: string;
  dataDir: string;
  logger: Logger;
}

/** media.workers resolved: auto is one worker per core, up to AUTO_MEDIA_WORKERS_CAP. */
export function mediaWorkerCount(setting: HibikiConfig['media']['workers'], cores = availableParallelism()): number {
  return setting === 'auto' ? Math.max(1, Math.min(cores, AUTO_MEDIA_WORKERS_CAP)) : setting;
}

export function createMediaEngine(media: HibikiConfig['media'], ctx: MediaEngineContext): MediaEngine {
  const builtin = new BuiltinMediaEngine({
    address: media.address ?? ctx.address,
    bindAddress: media.bindAddress,
    rtpPorts: media.rtpPorts,
    rtpTimeoutSec: media.rtpTimeout,
    udpIo: media.udpIo,
    logger: ctx.logger,
    workerCount: mediaWorkerCount(media.workers),
  });
  const r = media.rtpengine;
  if (media.engine === 'builtin' || r === undefined) return builtin;
  const client = new NgClient({ address: r.ng, timeoutMs: r.timeoutMs, retries: r.retries });
  const launcher = r.launch
    ? new RtpengineLauncher({
        binary: r.binary,
        dir: join(ctx.dataDir, 'rtpengine'),
        ng: r.ng,
        interface: r.interface,
        advertise: r.advertise,
        ports: r.ports,
        kernel: r.kernel,
        client,
        logger: ctx.logger,
      })
    : undefined;
  return new RtpengineMediaEngine({
    inner: builtin,
    client,
    wrap: media.engine === 'rtpengine' ? 'all' : 'webrtc',
    checkIntervalMs: r.checkInterval * 1000,
    launcher,
    logger: ctx.logger,
  });
}
