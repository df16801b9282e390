// F-HOLD: when a phone holds the call (re-INVITE/UPDATE with sendonly, inactive or c=0.0.0.0), the other
// party hears music on hold; resuming reconnects them. The holder's phone gets an ordinary answer.
import type { MediaEngine, PlayHandle } from '../media/engine.js';
import type { PromptCatalogue } from '../media/prompts.js';
import type { Call, Leg } from '../pbx/call.js';
import type { CallManager } from '../pbx/b2bua.js';
import type { HibikiConfig } from '../config/schema.js';
import { mohFiles } from './extension-audio.js';

export class HoldMusic {
  /** Music playing to a held leg, and the listener that stops it when the call ends. */
  private playing = new Map<Leg, { music: PlayHandle; call: Call; onEnded: () => void }>();

  constructor(
    private readonly calls: CallManager,
    private readonly media: MediaEngine,
    private readonly prompts: PromptCatalogue,
    private readonly config: () => HibikiConfig,
  ) {}

  start(): void {
    this.calls.holdHandler = {
      hold: (call, holder, held) => this.hold(call, holder, held),
      resume: (call, holder, held) => this.resume(call, holder, held),
      release: (held) => this.stop(held),
    };
  }

  private hold(call: Call, holder: Leg, held: Leg): void {
    this.media.unbridge(held.endpoint);
    const files = mohFiles(this.config(), this.prompts, holder.extension);
    if (files.length === 0) return;
    this.stop(held);
    // One listener per hold, removed again on resume: a call held and resumed many times must not pile
    // up 'ended' listeners (MaxListenersExceededWarning after ten).
    const onEnded = (): void => this.stop(held);
    this.playing.set(held, { music: this.media.play(held.endpoint, files, { loop: true }), call, onEnded });
    call.once('ended', onEnded);
  }

  private resume(_call: Call, holder: Leg, held: Leg): void {
    this.stop(held);
    if (!holder.ended && !held.ended && held.peer === holder) this.media.bridge(holder.endpoint, held.endpoint);
  }

  private stop(held: Leg): void {
    const entry = this.playing.get(held);
    if (!entry) return;
    this.playing.delete(held);
    entry.call.off('ended', entry.onEnded);
    entry.music.stop();
  }
}
