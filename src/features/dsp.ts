/**
 * Signal-processing pieces of the featurizer: the input conditioning (a 3-sample
 * vector median, a 3rd-order Butterworth low-pass), the gravity low-pass and a
 * 128-point real FFT. Coefficients and twiddles are computed once, when a filter
 * is made or at module load; nothing allocates per sample.
 */

/**
 * Second-order low-pass biquad, direct form II transposed, from the bilinear transform of
 * `1 / (s² + s/Q + 1)` prewarped to the cut-off (RBJ cookbook). Q = 1/√2 is the 2nd-order
 * Butterworth; Q = 1 is the complex pole pair of the 3rd-order one.
 */
export class LowPass {
  readonly b0: number;
  readonly b1: number;
  readonly b2: number;
  readonly a1: number;
  readonly a2: number;

  constructor(cutoffHz: number, sampleRateHz: number, q = Math.SQRT1_2) {
    const k = Math.tan((Math.PI * cutoffHz) / sampleRateHz);
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

/** First-order low-pass, direct form II transposed: the bilinear transform of `1 / (s + 1)` prewarped to the cut-off. */
export class FirstOrderLowPass {
  readonly b0: number;
  readonly b1: number;
  readonly a1: number;

  constructor(cutoffHz: number, sampleRateHz: number) {
    const k = Math.tan((Math.PI * cutoffHz) / sampleRateHz);
    this.b0 = k / (1 + k);
    this.b1 = this.b0;
    this.a1 = (k - 1) / (k + 1);
  }

  /** Filter state (z1) for a constant input `x`: the output starts at x with no transient. */
  steadyState(x: number, state: Float64Array, at: number): void {
    state[at] = (1 - this.b0) * x;
  }

  /** Filters one value; `state[at]` holds z1. */
  step(x: number, state: Float64Array, at: number): number {
    const y = this.b0 * x + state[at];
    state[at] = this.b1 * x - this.a1 * y;
    return y;
  }
}

/** Values of filter state per channel of a `Butterworth3`: the first-order section's z1, then the biquad's z1, z2. */
export const BUTTERWORTH3_STATE = 3;

/**
 * Third-order Butterworth low-pass as a cascade of a first-order section (the real pole) and a
 * biquad with Q = 1 (the complex pair): the bilinear transform of `1 / ((s + 1)(s² + s + 1))`,
 * which is what `scipy.signal.butter(3, cutoff, fs=rate)` computes as one direct form. Sections
 * keep low-order recursions well conditioned; each has gain 1 at 0 Hz, so the cascade does too.
 */
export class Butterworth3 {
  readonly first: FirstOrderLowPass;
  readonly second: LowPass;
  /** State for a constant input x is `steady[i] · x` (each section's DC gain is 1, so it sees x too). */
  readonly steady: Float64Array;

  constructor(cutoffHz: number, sampleRateHz: number) {
    this.first = new FirstOrderLowPass(cutoffHz, sampleRateHz);
    this.second = new LowPass(cutoffHz, sampleRateHz, 1);
    this.steady = Float64Array.of(1 - this.first.b0, 1 - this.second.b0, this.second.b2 - this.second.a2);
  }

  /** Numerator and denominator of the whole filter (the sections' product), highest power of z⁻¹ last. */
  transferFunction(): { b: number[]; a: number[] } {
    const f = this.first;
    const s = this.second;
    return {
      b: [f.b0 * s.b0, f.b0 * s.b1 + f.b1 * s.b0, f.b0 * s.b2 + f.b1 * s.b1, f.b1 * s.b2],
      a: [1, f.a1 + s.a1, f.a1 * s.a1 + s.a2, f.a1 * s.a2],
    };
  }

  /** Filter state for a constant input `x`, at `state[at .. at + 3)`. */
  steadyState(x: number, state: Float64Array, at: number): void {
    this.first.steadyState(x, state, at);
    this.second.steadyState(x, state, at + 1);
  }

  step(x: number, state: Float64Array, at: number): number {
    return this.second.step(this.first.step(x, state, at), state, at + 1);
  }
}

/** Relative margin within which two squared distances count as equal in `vectorMedian3` (see there). */
const TIE = 1e-9;

/**
 * Vector median of three 3-vectors (Astola, Haavisto & Neuvo, Proc. IEEE 1990): the one whose
 * summed distance to the other two is least, which for three points is the one opposite the
 * longest side. Returns 0, 1 or 2 for `a[at0..]`, `a[at1..]`, `a[at2..]` (stride 1).
 *
 * Why not the per-axis median UCI HAR used: a rotation does not commute with it, so moving the
 * state into a new calibration frame (`Featurizer.changeFrame`) could not be exact. Distances are
 * invariant under rotations and offsets, so the choice of sample is the same in every frame, and
 * like the per-axis median it drops a one-sample spike. Near-ties (within TIE, relative) go to the
 * middle sample, then to the newest, so rounding in a rotated frame does not flip the choice.
 */
export function vectorMedian3(a: Float64Array, at0: number, at1: number, at2: number): 0 | 1 | 2 {
  let d01 = 0;
  let d02 = 0;
  let d12 = 0;
  for (let i = 0; i < 3; i++) {
    const x0 = a[at0 + i];
    const x1 = a[at1 + i];
    const x2 = a[at2 + i];
    d01 += (x0 - x1) * (x0 - x1);
    d02 += (x0 - x2) * (x0 - x2);
    d12 += (x1 - x2) * (x1 - x2);
  }
  // Sample 1 is opposite d02, sample 2 opposite d01, sample 0 opposite d12.
  if (d02 >= (d01 > d12 ? d01 : d12) * (1 - TIE)) return 1;
  return d01 >= d12 * (1 - TIE) ? 2 : 0;
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
