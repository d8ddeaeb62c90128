import { InvalidValueError } from '../errors.ts';
import { spectrum, WINDOW } from './dsp.ts';
import { ANGLES, BANDS, CH, CORRELATED, FEATURE_NAMES, PAIRS, SPECTRA, TIME_CHANNELS } from './plan.ts';

const CHANNELS = TIME_CHANNELS.length;
const HZ_PER_BIN = 50 / WINDOW;
const BINS = WINDOW / 2 + 1;
/**
 * Floor added before a log so that a constant signal gives a finite value.
 * 1e-6 (g or rad/s) is three orders below the phone's sensor resolution
 * (about 1e-3 g), so it never masks a real spread; energies are squares, hence its square.
 */
const SPREAD_FLOOR = 1e-6;
const ENERGY_FLOOR = SPREAD_FLOOR * SPREAD_FLOOR;
const LOG_BINS = Math.log(BINS - 1);

// Scratch buffers, shared by every featurizer of the process: computeFeatures is synchronous and
// never re-entered, and sharing keeps a featurizer's own memory to its ring.
const sorted = new Float64Array(WINDOW);
const mags = new Float64Array(BINS);
const means = new Float64Array(CHANNELS);
const stds = new Float64Array(CHANNELS);

function angle(ax: number, ay: number, az: number, bx: number, by: number, bz: number): number {
  const na = Math.sqrt(ax * ax + ay * ay + az * az);
  const nb = Math.sqrt(bx * bx + by * by + bz * bz);
  if (na === 0 || nb === 0) return 0;
  const c = (ax * bx + ay * by + az * bz) / (na * nb);
  return Math.acos(Math.max(-1, Math.min(1, c)));
}

/**
 * Computes the feature vector of one window. `channels` holds the 20 time
 * channels of the window, channel-major (`channels[c * 128 + i]`), in
 * `TIME_CHANNELS` order. Writes `FEATURE_NAMES.length` values into `out`.
 * Every sum runs in sample order, so the same window gives the same bits.
 */
export function computeFeatures(channels: Float64Array, out: Float64Array): void {
  let o = 0;
  for (let c = 0; c < CHANNELS; c++) {
    const base = c * WINDOW;
    let sum = 0;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < WINDOW; i++) {
      const v = channels[base + i];
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const mean = sum / WINDOW;
    let sq = 0;
    for (let i = 0; i < WINDOW; i++) {
      const d = channels[base + i] - mean;
      sq += d * d;
    }
    const std = Math.sqrt(sq / WINDOW);
    sorted.set(channels.subarray(base, base + WINDOW));
    sorted.sort();
    means[c] = mean;
    stds[c] = std;
    out[o++] = mean;
    out[o++] = Math.log(std + SPREAD_FLOOR);
    out[o++] = min;
    out[o++] = max;
    out[o++] = Math.log(sorted[(3 * WINDOW) / 4] - sorted[WINDOW / 4] + SPREAD_FLOOR);
  }
  for (const [, first] of CORRELATED) {
    for (const [i, j] of PAIRS) {
      const ci = first + i;
      const cj = first + j;
      const mi = means[ci];
      const mj = means[cj];
      let cov = 0;
      for (let k = 0; k < WINDOW; k++) cov += (channels[ci * WINDOW + k] - mi) * (channels[cj * WINDOW + k] - mj);
      const denom = stds[ci] * stds[cj] * WINDOW;
      out[o++] = denom > 1e-12 ? cov / denom : 0;
    }
  }
  for (const [, c] of SPECTRA) {
    spectrum(channels.subarray(c * WINDOW, (c + 1) * WINDOW), mags);
    // Bin 0 (the mean) is left out: it is a time-domain feature already.
    let energy = 0;
    let weighted = 0;
    let total = 0;
    let peak = 1;
    for (let k = 1; k < BINS; k++) {
      const m = mags[k];
      energy += m * m;
      total += m;
      weighted += m * k;
      if (m > mags[peak]) peak = k;
    }
    let entropy = 0;
    if (total > 0) {
      for (let k = 1; k < BINS; k++) {
        const p = mags[k] / total;
        if (p > 0) entropy -= p * Math.log(p);
      }
      entropy /= LOG_BINS;
    }
    out[o++] = Math.log(energy + ENERGY_FLOOR);
    out[o++] = total > 0 ? (weighted / total) * HZ_PER_BIN : 0;
    out[o++] = peak * HZ_PER_BIN;
    out[o++] = entropy;
    for (const [lo, hi] of BANDS) {
      let band = 0;
      for (let k = lo; k <= hi; k++) band += mags[k] * mags[k];
      out[o++] = Math.log(band + ENERGY_FLOOR);
    }
  }
  const gx = means[CH.gravity];
  const gy = means[CH.gravity + 1];
  const gz = means[CH.gravity + 2];
  out[o++] = angle(means[CH.body], means[CH.body + 1], means[CH.body + 2], gx, gy, gz);
  out[o++] = angle(means[CH.gyro], means[CH.gyro + 1], means[CH.gyro + 2], gx, gy, gz);
  out[o++] = angle(1, 0, 0, gx, gy, gz);
  out[o++] = angle(0, 1, 0, gx, gy, gz);
  out[o++] = angle(0, 0, 1, gx, gy, gz);
  if (o !== FEATURE_NAMES.length || ANGLES.length !== 5) {
    throw new InvalidValueError(`feature plan mismatch: wrote ${o}, named ${FEATURE_NAMES.length}`);
  }
}
