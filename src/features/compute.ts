import { spectrum, WINDOW } from './dsp.ts';
import { BANDS, CORRELATED, FEATURE_NAMES, PAIRS, SPECTRUM_SOURCE, TIME_CHANNELS } from './plan.ts';

const CHANNELS = TIME_CHANNELS.length;
const HZ_PER_BIN = 50 / WINDOW;
const sorted = new Float64Array(WINDOW);
const mags = new Float64Array(WINDOW / 2 + 1);
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
    let abs = 0;
    for (let i = 0; i < WINDOW; i++) {
      const d = channels[base + i] - mean;
      sq += d * d;
      abs += Math.abs(d);
    }
    const std = Math.sqrt(sq / WINDOW);
    for (let i = 0; i < WINDOW; i++) sorted[i] = channels[base + i];
    sorted.sort();
    means[c] = mean;
    stds[c] = std;
    out[o++] = mean;
    out[o++] = std;
    out[o++] = abs / WINDOW;
    out[o++] = min;
    out[o++] = max;
    out[o++] = sorted[(3 * WINDOW) / 4] - sorted[WINDOW / 4];
  }
  for (let s = 0; s < CORRELATED.length; s++) {
    const signal = [0, 1, 3][s];
    for (const [i, j] of PAIRS) {
      const ci = signal * 3 + i;
      const cj = signal * 3 + j;
      let cov = 0;
      for (let k = 0; k < WINDOW; k++) {
        cov += (channels[ci * WINDOW + k] - means[ci]) * (channels[cj * WINDOW + k] - means[cj]);
      }
      const denom = stds[ci] * stds[cj] * WINDOW;
      out[o++] = denom > 1e-12 ? cov / denom : 0;
    }
  }
  for (let s = 0; s < SPECTRUM_SOURCE.length; s++) {
    const c = SPECTRUM_SOURCE[s];
    spectrum(channels.subarray(c * WINDOW, (c + 1) * WINDOW), mags);
    // Bin 0 (the mean) is left out: it is a time-domain feature already.
    let energy = 0;
    let weighted = 0;
    let total = 0;
    let peak = 1;
    for (let k = 1; k < mags.length; k++) {
      const m = mags[k];
      energy += m * m;
      total += m;
      weighted += m * k;
      if (m > mags[peak]) peak = k;
    }
    let entropy = 0;
    if (total > 0) {
      for (let k = 1; k < mags.length; k++) {
        const p = mags[k] / total;
        if (p > 0) entropy -= p * Math.log(p);
      }
      entropy /= Math.log(mags.length - 1);
    }
    out[o++] = energy;
    out[o++] = total > 0 ? (weighted / total) * HZ_PER_BIN : 0;
    out[o++] = peak * HZ_PER_BIN;
    out[o++] = entropy;
    for (const [lo, hi] of BANDS) {
      let band = 0;
      for (let k = lo; k <= hi; k++) band += mags[k] * mags[k];
      out[o++] = band;
    }
  }
  // Angles between mean vectors (gravity = channels 3..5, body acc 0..2, gyro 9..11).
  const gx = means[3];
  const gy = means[4];
  const gz = means[5];
  out[o++] = angle(means[0], means[1], means[2], gx, gy, gz);
  out[o++] = angle(means[9], means[10], means[11], gx, gy, gz);
  out[o++] = angle(1, 0, 0, gx, gy, gz);
  out[o++] = angle(0, 1, 0, gx, gy, gz);
  out[o++] = angle(0, 0, 1, gx, gy, gz);
  if (o !== FEATURE_NAMES.length) throw new Error(`feature plan mismatch: wrote ${o}, named ${FEATURE_NAMES.length}`);
}
