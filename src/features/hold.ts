// F-HOLD: when a phone holds the call (re-INVITE/UPDATE with sendonly, inactive or c=0.0.0.0), the other
// party hears the holder's music on hold; resuming stops it (the bridge reconnects the audio). The holder's
// phone gets an ordinary answer.
import type { HibikiConfig } from '../config/schema.js';
import type { PlayHandle } from '../media/engine.js';
import type { PromptCatalogue } from '../media/prompts.js';
import type { Feature, FeatureRegistry, InCallContext } from '../pbx/application.js';
import type { Leg } from '../pbx/leg.js';
import { mohFiles } from '../pbx/extension-audio.js';

export class HoldMusic implements Feature {
  /** Music playing to a held leg, and the listener that stops it when the call ends. */
  private playing = new Map<Leg, { music: PlayHandle; off: () => void }>();

  constructor(
    private readonly prompts: PromptCatalogue,
    private readonly config: () => HibikiConfig,
  ) {}

  register(r: FeatureRegistry): void {
    r.hold({ hold: (ctx) => this.hold(ctx), resume: (ctx) => this.release(ctx.other), release: (leg) => this.release(leg) });
  }

  private hold({ session, leg: holder, other: held }: InCallContext): void {
    const files = mohFiles(this.config(), this.prompts, holder.extension);
    if (files.length === 0) return;
    this.release(held);
    // One listener per hold, removed again on resume: a call held and resumed many times must not pile
    // up 'ended' listeners (MaxListenersExceededWarning after ten).
    const call = session.call;
    const onEnded = (): void => this.release(held);
    call.once('ended', onEnded);
    this.playing.set(held, { music: session.play(held, files, { loop: true }), off: () => call.off('ended', onEnded) });
  }

  /** Stop the music a held leg hears (resumed, or connected elsewhere by a transfer). */
  release(held: Leg): void {
    const entry = this.playing.get(held);
    if (!entry) return;
    this.playing.delete(held);
    entry.off();
    entry.music.stop();
  }
}
