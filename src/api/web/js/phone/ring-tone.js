// The ring an incoming call makes in the page: a two-tone ring generated with Web Audio (no sound file to
// fetch), on for 1 s, off for 2 s, until stopped.
export class RingTone {
  start() {
    if (this.timer) return;
    this.ctx ??= new AudioContext();
    const ring = () => {
      const gain = this.ctx.createGain();
      gain.gain.value = 0.1;
      gain.connect(this.ctx.destination);
      for (const hz of [400, 450]) {
        const osc = this.ctx.createOscillator();
        osc.frequency.value = hz;
        osc.connect(gain);
        osc.start();
        osc.stop(this.ctx.currentTime + 1);
      }
    };
    ring();
    this.timer = setInterval(ring, 3000);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
