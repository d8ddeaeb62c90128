import { describe, expect, it } from 'vitest';
import { Butterworth3, LowPass, spectrum, vectorMedian3, WINDOW } from '../../src/features/dsp.ts';
import { mulberry32 } from '../../src/random.ts';

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

/** |H(e^{jω})| of a direct-form transfer function b / a at `hz`. */
function magnitude(b: number[], a: number[], hz: number, fs: number): number {
  const w = (2 * Math.PI * hz) / fs;
  const at = (c: number[]) => {
    let re = 0;
    let im = 0;
    for (let k = 0; k < c.length; k++) {
      re += c[k] * Math.cos(w * k);
      im -= c[k] * Math.sin(w * k);
    }
    return Math.hypot(re, im);
  };
  return at(b) / at(a);
}

describe('noise low-pass (3rd-order Butterworth, 20 Hz at 50 Hz)', () => {
  const bw = new Butterworth3(20, 50);

  it('has the coefficients of scipy.signal.butter(3, 20, fs=50)', () => {
    // Computed offline, not by this code: python3's decimal module at 40 digits, the analog prototype
    // 1 / ((s + 1)(s² + s + 1)) prewarped to K = tan(π · 20 / 50) and bilinear-transformed, multiplied
    // out into one direct form: the steps scipy.signal.butter(3, 20, fs=50) takes (scipy is not
    // installed on the machine where this was written, so its output itself was not compared).
    const b = [0.5276243825019432, 1.5828731475058297, 1.5828731475058297, 0.5276243825019432];
    const a = [1, 1.7600418803431688, 1.1828932620378307, 0.2780599176345464];
    const tf = bw.transferFunction();
    for (let k = 0; k < 4; k++) {
      expect(tf.b[k]).toBeCloseTo(b[k], 13);
      expect(tf.a[k]).toBeCloseTo(a[k], 13);
    }
  });

  it('has a Butterworth magnitude response: 1 at 0 Hz, 1/√2 at 20 Hz, 1/√(1 + (Ω/Ωc)⁶) between', () => {
    const { b, a } = bw.transferFunction();
    const wc = Math.tan((Math.PI * 20) / 50);
    for (const hz of [0, 2, 5, 10, 15, 20, 22, 24.9]) {
      const ratio = Math.tan((Math.PI * hz) / 50) / wc;
      expect(magnitude(b, a, hz, 50)).toBeCloseTo(1 / Math.sqrt(1 + ratio ** 6), 12);
    }
    expect(magnitude(b, a, 0, 50)).toBeCloseTo(1, 14);
    expect(magnitude(b, a, 20, 50)).toBeCloseTo(Math.SQRT1_2, 14);
  });

  it('filters sample by sample with that response, from a steady state without transient', () => {
    const state = new Float64Array(3);
    bw.steadyState(0.98, state, 0);
    for (let i = 0; i < 50; i++) expect(bw.step(0.98, state, 0)).toBeCloseTo(0.98, 14);
    for (const hz of [5, 20, 23]) {
      let peak = 0;
      for (let i = 0; i < 4000; i++) {
        const y = bw.step(Math.sin((2 * Math.PI * hz * i) / 50), state, 0);
        if (i > 2000) peak = Math.max(peak, Math.abs(y));
      }
      const { b, a } = bw.transferFunction();
      // The sampled peak of a sinusoid is below its amplitude by at most a sampling phase.
      expect(peak).toBeLessThanOrEqual(magnitude(b, a, hz, 50) + 1e-9);
      expect(peak).toBeGreaterThan(magnitude(b, a, hz, 50) * 0.9);
    }
  });
});

describe('vectorMedian3', () => {
  const pick = (x: number[][]) => vectorMedian3(Float64Array.from(x.flat()), 0, 3, 6);

  it('drops a one-sample spike and keeps the middle of a steady movement', () => {
    expect(
      pick([
        [0, 0, 1],
        [0, 0, 9],
        [0, 0, 1.01],
      ]),
    ).not.toBe(1);
    expect(
      pick([
        [0, 0, 1],
        [0.1, 0, 1],
        [0.2, 0, 1],
      ]),
    ).toBe(1);
    expect(
      pick([
        [5, 5, 5],
        [5, 5, 5],
        [5, 5, 5],
      ]),
    ).toBe(1);
    // A step: the new level wins only once it has been read twice.
    expect(
      pick([
        [0, 0, 1],
        [0, 0, 1],
        [0, 0, 2],
      ]),
    ).not.toBe(2);
    expect(
      pick([
        [0, 0, 1],
        [0, 0, 2],
        [0, 0, 2],
      ]),
    ).not.toBe(0);
  });

  it('picks the same sample after any rotation and offset of all three', () => {
    const rand = mulberry32(3);
    for (let trial = 0; trial < 2000; trial++) {
      // Quantized readings, as phones send: exact ties between distances occur.
      const x = Array.from({ length: 3 }, () => Array.from({ length: 3 }, () => Math.round(rand() * 8) / 4));
      const [u, v, w] = [rand() * 2 * Math.PI, rand() * 2 * Math.PI, rand() * 2 * Math.PI];
      const rz = [Math.cos(u), -Math.sin(u), 0, Math.sin(u), Math.cos(u), 0, 0, 0, 1];
      const ry = [Math.cos(v), 0, Math.sin(v), 0, 1, 0, -Math.sin(v), 0, Math.cos(v)];
      const rx = [1, 0, 0, 0, Math.cos(w), -Math.sin(w), 0, Math.sin(w), Math.cos(w)];
      const apply = (m: number[], p: number[]) =>
        [0, 1, 2].map((i) => m[i * 3] * p[0] + m[i * 3 + 1] * p[1] + m[i * 3 + 2] * p[2]);
      const shift = [rand() - 0.5, rand() - 0.5, rand() - 0.5];
      const moved = x.map((p) => apply(rz, apply(ry, apply(rx, p))).map((c, i) => c + shift[i]));
      expect(pick(moved)).toBe(pick(x));
    }
  });
});
