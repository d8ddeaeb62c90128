import { describe, expect, it } from 'vitest';
import { LowPass, spectrum, WINDOW } from '../../src/features/dsp.ts';

describe('spectrum', () => {
  it('peaks at the bin of a pure sinusoid', () => {
    for (const bin of [1, 10, 37, 63]) {
      const signal = Float64Array.from({ length: WINDOW }, (_, i) => Math.sin((2 * Math.PI * bin * i) / WINDOW));
      const mags = new Float64Array(WINDOW / 2 + 1);
      spectrum(signal, mags);
      expect(mags[bin]).toBeCloseTo(0.5, 12);
      for (let k = 0; k < mags.length; k++) if (k !== bin) expect(mags[k]).toBeLessThan(1e-12);
    }
  });

  it('agrees with a direct DFT on a noisy signal', () => {
    let s = 12345;
    const signal = Float64Array.from({ length: WINDOW }, () => {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      return s / 2 ** 31 - 0.5;
    });
    const mags = new Float64Array(WINDOW / 2 + 1);
    spectrum(signal, mags);
    for (let k = 0; k <= WINDOW / 2; k++) {
      let re = 0;
      let im = 0;
      for (let n = 0; n < WINDOW; n++) {
        re += signal[n] * Math.cos((2 * Math.PI * k * n) / WINDOW);
        im -= signal[n] * Math.sin((2 * Math.PI * k * n) / WINDOW);
      }
      expect(mags[k]).toBeCloseTo(Math.hypot(re, im) / WINDOW, 12);
    }
  });
});

describe('gravity low-pass', () => {
  it('passes a constant from its steady state and attenuates a 2 Hz sway below 2 %', () => {
    const lp = new LowPass(0.3, 50);
    const state = new Float64Array(2);
    lp.steadyState(0.98, state, 0);
    for (let i = 0; i < 100; i++) expect(lp.step(0.98, state, 0)).toBeCloseTo(0.98, 12);
    let peak = 0;
    for (let i = 0; i < 1000; i++) {
      const y = lp.step(0.98 + Math.sin((2 * Math.PI * 2 * i) / 50), state, 0);
      if (i > 500) peak = Math.max(peak, Math.abs(y - 0.98));
    }
    // A 2nd-order Butterworth at 0.3 Hz: (0.3 / 2)^2 ≈ 0.022 of the amplitude at 2 Hz.
    expect(peak).toBeLessThan(0.025);
    expect(peak).toBeGreaterThan(0.015);
  });
});
