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
  private playing = new Map<Leg, PlayHandle>();

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
    this.playing.get(held)?.stop();
    this.playing.set(held, session.play(held, files, { loop: true }));
    session.call.once('ended', () => this.release(held));
  }

  /** Stop the music a held leg hears (resumed, or connected elsewhere by a transfer). */
  release(held: Leg): void {
    this.playing.get(held)?.stop();
    this.playing.delete(held);
  }
}
