/**
 * Samples per second over a sliding window of whole seconds, in two small typed arrays (a ring of
 * per-second counts and the second each slot holds): the same few bytes whatever the rate, so a
 * thousand devices cost a few hundred kB. Times are the log's (epoch ms), told by the caller.
 */
export class RateWindow {
  readonly #counts: Float64Array;
  readonly #seconds: Float64Array;
  /** Start of the current stretch of activity: a device that just began is not averaged over the whole window. */
  #since = Number.NEGATIVE_INFINITY;
  #newest = Number.NEGATIVE_INFINITY;

  /** @param seconds the window's length in whole seconds (at least 1) */
  constructor(seconds: number) {
    this.#counts = new Float64Array(seconds);
    this.#seconds = new Float64Array(seconds).fill(-1);
  }

  add(time: number, count: number): void {
    const n = this.#counts.length;
    const second = Math.floor(time / 1000);
    if (second <= Math.floor(this.#newest / 1000) - n) return; // older than the window: nothing to count it in
    if (time - this.#newest > n * 1000) this.#since = time;
    this.#newest = Math.max(this.#newest, time);
    const slot = second % n;
    if (this.#seconds[slot] !== second) {
      if (this.#seconds[slot] > second) return;
      this.#seconds[slot] = second;
      this.#counts[slot] = 0;
    }
    this.#counts[slot] += count;
  }

  /** Samples per second in the window that ends at `now`; 0 once the device has been quiet for a window. */
  perSecond(now: number): number {
    const n = this.#counts.length;
    const nowSecond = Math.floor(now / 1000);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const s = this.#seconds[i];
      if (s > nowSecond - n && s <= nowSecond) sum += this.#counts[i];
    }
    if (sum === 0) return 0;
    // Whole seconds covered, the current one included: at least 1, at most the window.
    const covered = Math.min(n, Math.max(1, nowSecond - Math.floor(this.#since / 1000) + 1));
    return sum / covered;
  }
}
