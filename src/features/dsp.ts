/**
 * Signal-processing pieces of the featurizer: a causal Butterworth low-pass
 * (gravity separation) and a 128-point real FFT. Coefficients and twiddles are
 * computed once at module load; nothing allocates per sample.
 */

/** Second-order Butterworth low-pass biquad, direct form II transposed (RBJ cookbook, Q = 1/sqrt 2). */
export class LowPass {
  readonly b0: number;
  readonly b1: number;
  readonly b2: number;
  readonly a1: number;
  readonly a2: number;

  constructor(cutoffHz: number, sampleRateHz: number) {
    const k = Math.tan((Math.PI * cutoffHz) / sampleRateHz);
    const q = Math.SQRT1_2;
    const norm = 1 / (1 + k / q + k * k);
    this.b0 = k * k * norm;
    this.b1 = 2 * this.b0;
    this.b2 = this.b0;
    this.a1 = 2 * (k * k - 1) * norm;
    this.a2 = (1 - k / q + k * k) * norm;
  }

  /** Filter state (z1, z2) for a constant input `x`: the output starts at x with no transient. */
  steadyState(x: number, state: Float64Array, at: number): void {
    state[at] = (1 - this.b0) * x;
    state[at + 1] = (this.b2 - this.a2) * x;
  }

  /** Filters one value; `state[at]`, `state[at + 1]` hold (z1, z2). */
  step(x: number, state: Float64Array, at: number): number {
    const y = this.b0 * x + state[at];
    state[at] = this.b1 * x - this.a1 * y + state[at + 1];
    state[at + 1] = this.b2 * x - this.a2 * y;
    return y;
  }
}

export const WINDOW = 128;
const LOG2 = 7;
const HALF = WINDOW / 2;
const COS = Float64Array.from({ length: HALF }, (_, i) => Math.cos((-2 * Math.PI * i) / WINDOW));
const SIN = Float64Array.from({ length: HALF }, (_, i) => Math.sin((-2 * Math.PI * i) / WINDOW));
const REVERSED = Uint8Array.from({ length: WINDOW }, (_, i) => {
  let r = 0;
  for (let b = 0; b < LOG2; b++) r |= ((i >> b) & 1) << (LOG2 - 1 - b);
  return r;
});

const re = new Float64Array(WINDOW);
const im = new Float64Array(WINDOW);

/**
 * Magnitudes |X_k| / N for k = 0..64 of the 128-point FFT of `signal`
 * (iterative radix-2 Cooley-Tukey), written into `out` (length 65).
 */
export function spectrum(signal: Float64Array, out: Float64Array): void {
  for (let i = 0; i < WINDOW; i++) {
    re[REVERSED[i]] = signal[i];
    im[i] = 0;
  }
  for (let size = 2; size <= WINDOW; size <<= 1) {
    const half = size >> 1;
    const step = WINDOW / size;
    for (let start = 0; start < WINDOW; start += size) {
      for (let j = 0; j < half; j++) {
        const tw = j * step;
        const a = start + j;
        const b = a + half;
        const tr = re[b] * COS[tw] - im[b] * SIN[tw];
        const ti = re[b] * SIN[tw] + im[b] * COS[tw];
        re[b] = re[a] - tr;
        im[b] = im[a] - ti;
        re[a] += tr;
        im[a] += ti;
      }
    }
  }
  for (let k = 0; k <= HALF; k++) out[k] = Math.sqrt(re[k] * re[k] + im[k] * im[k]) / WINDOW;
}
