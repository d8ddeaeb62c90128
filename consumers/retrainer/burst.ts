/**
 * Gathers a burst of drift events into one retraining trigger. Drift comes in
 * bursts (many features of many devices within seconds); the burst is closed
 * when no event came for `quietMs`, or `maxWaitMs` after its first event when
 * events keep coming. Time is injected so that tests need no sleeping.
 */
export interface BurstClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: BurstClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface BurstTiming {
  quietMs: number;
  maxWaitMs: number;
  pollMs: number;
}

/**
 * Waits until the burst opened at `openedAt` is closed. `poll` returns how
 * many new events it found (and keeps them); `stopping` ends the wait early.
 * Returns why the burst closed.
 */
export async function awaitBurstEnd(
  openedAt: number,
  timing: BurstTiming,
  poll: () => Promise<number>,
  clock: BurstClock = realClock,
  stopping: () => boolean = () => false,
): Promise<'quiet' | 'max-wait' | 'stopping'> {
  let lastEventAt = openedAt;
  for (;;) {
    const now = clock.now();
    if (now - openedAt >= timing.maxWaitMs) return 'max-wait';
    if (now - lastEventAt >= timing.quietMs) return 'quiet';
    if (stopping()) return 'stopping';
    const next = Math.min(lastEventAt + timing.quietMs, openedAt + timing.maxWaitMs) - now;
    await clock.sleep(Math.max(1, Math.min(timing.pollMs, next)));
    if ((await poll()) > 0) lastEventAt = clock.now();
  }
}
