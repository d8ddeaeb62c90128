import { describe, expect, it } from 'vitest';
import { awaitBurstEnd, type BurstClock } from '../../consumers/retrainer/burst.ts';
import { resolveRetrainerOptions } from '../../consumers/retrainer/options.ts';

/** A clock that advances only when slept on: bursts are timed without waiting. */
function fakeClock(): BurstClock & { t: number } {
  const c = {
    t: 0,
    now: () => c.t,
    sleep: async (ms: number) => {
      c.t += ms;
    },
  };
  return c;
}

describe('retrainer burst', () => {
  const timing = { quietMs: 5000, maxWaitMs: 30000, pollMs: 250 };

  it('closes after the quiet period once events stop', async () => {
    const clock = fakeClock();
    const arrivals = [1000, 2000, 4000];
    const closed = await awaitBurstEnd(
      0,
      timing,
      async () => arrivals.filter((t) => t <= clock.t && t > clock.t - 250).length,
      clock,
    );
    expect(closed).toBe('quiet');
    expect(clock.t).toBe(9000);
  });

  it('closes at the maximum wait when events keep coming', async () => {
    const clock = fakeClock();
    const closed = await awaitBurstEnd(0, timing, async () => 1, clock);
    expect(closed).toBe('max-wait');
    expect(clock.t).toBe(30000);
  });

  it('stops waiting when the consumer stops', async () => {
    const clock = fakeClock();
    const closed = await awaitBurstEnd(
      0,
      timing,
      async () => 0,
      clock,
      () => clock.t >= 1000,
    );
    expect(closed).toBe('stopping');
    expect(clock.t).toBe(1000);
  });

  it('refuses options that cannot work, saying how to fix them', () => {
    expect(() => resolveRetrainerOptions({ quietMs: 10000, maxWaitMs: 5000 })).toThrow(
      /maxWaitMs \(5000\) must be >= quietMs/,
    );
    expect(() => resolveRetrainerOptions({ validationFraction: 1 })).toThrow(/validationFraction/);
    expect(() => resolveRetrainerOptions({ model: '../x' })).toThrow(/model name/);
    expect(resolveRetrainerOptions({ quietMs: undefined }).quietMs).toBe(2000);
  });
});
