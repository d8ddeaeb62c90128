import { ACTIVITIES, type Activity, CHANNEL_NAMES } from '../data/activities.ts';
import { InvalidOptionError, InvalidValueError, SnapshotInvalidError } from '../errors.ts';
import { computeFeatures } from './compute.ts';
import { Butterworth3, LowPass, vectorMedian3, WINDOW } from './dsp.ts';
import { CH, FEATURE_NAMES, TIME_CHANNELS } from './plan.ts';
import { decodeState, encodeState, type FeaturizerState } from './snapshot.ts';

/** Samples between the starts of consecutive windows (50 % overlap, as UCI HAR). */
export const STEP = WINDOW / 2;
/** Values per input sample: acc x, y, z (g), gyro x, y, z (rad/s). */
export const INPUT_CHANNELS = 6;
/** Channels kept in the ring: 5 axis signals × 3 axes. Magnitudes are derived from them per window. */
const AXIS_CHANNELS = 15;
const CHANNELS = TIME_CHANNELS.length;
/**
 * Filter state, one Float64Array: the gravity filter's (z1, z2) per acc axis at 2a; the previous
 * body acc (3) and gyro (3) for the jerks; the noise low-pass's 3 values per input channel; the
 * last three raw samples (6 values each, oldest first) for the median.
 */
const PREV_BODY = 6;
const PREV_GYRO = 9;
const NOISE = 12;
const RAW = NOISE + INPUT_CHANNELS * 3;
/** Where the sample being pushed goes: the last of the three raw samples. */
const NEWEST = RAW + 2 * INPUT_CHANNELS;
const FILTER_STATE = RAW + 3 * INPUT_CHANNELS;
const NO_LABEL = -1;
const OTHER_LABEL = -2;
const LABEL_CODES = new Map<string, number>(ACTIVITIES.map((a, i) => [a, i]));

/** Sample rows ([acc x, y, z, gyro x, y, z] each) as the flat array `Featurizer.push` takes. */
export function flattenRows(rows: readonly (readonly number[])[]): Float64Array {
  const out = new Float64Array(rows.length * INPUT_CHANNELS);
  let o = 0;
  for (const row of rows) for (let c = 0; c < INPUT_CHANNELS; c++) out[o++] = row[c];
  return out;
}

/** `v ← M v + add` for the 3-vector at `a[at]`, `a[at + stride]`, `a[at + 2 stride]`. */
function turn(a: Float64Array, at: number, stride: number, m: ArrayLike<number>, add: ArrayLike<number> | null): void {
  const x = a[at];
  const y = a[at + stride];
  const z = a[at + 2 * stride];
  for (let i = 0; i < 3; i++)
    a[at + i * stride] = m[i * 3] * x + m[i * 3 + 1] * y + m[i * 3 + 2] * z + (add === null ? 0 : add[i]);
}

/** One completed window of a device's stream. */
export interface FeatureWindow {
  /** `FEATURE_NAMES.length` values in `FEATURE_NAMES` order. */
  features: Float64Array;
  /** Stream index of the window's first and last sample (0-based, counting every sample pushed). */
  firstSample: number;
  lastSample: number;
  /** Timestamps of the first and last sample, when both were pushed with timestamps; else null. */
  startTime: number | null;
  endTime: number | null;
  /** The activity when all 128 samples carry the same basic-activity label, else null. */
  label: Activity | null;
}

export interface FeaturizerOptions {
  /** @defaultValue 50 */
  sampleRateHz?: number;
  /** Cut-off of the low-pass that separates gravity from body acceleration (UCI HAR's 0.3 Hz). @defaultValue 0.3 */
  gravityCutoffHz?: number;
  /**
   * Cut-off of the 3rd-order Butterworth that conditions all six inputs after the median
   * (UCI HAR's 20 Hz noise filter); must lie between the gravity cut-off and Nyquist.
   * @defaultValue 20
   */
  noiseCutoffHz?: number;
}

/**
 * Turns one device's raw readings (acc x/y/z in g, gyro x/y/z in rad/s) into
 * feature vectors over 128-sample windows with a 64-sample step. Each sample is
 * first conditioned as UCI HAR did: a 3-sample median (a vector median per
 * sensor, see `vectorMedian3`), then a 3rd-order 20 Hz Butterworth low-pass.
 *
 * Incremental: the state is the last raw samples (for the median), the noise
 * and gravity filters, the previous sample (for the jerks) and a 128-sample
 * ring of derived axis signals; every sample is processed once, in order, so
 * any batching of the same readings gives bit-identical windows, and
 * snapshot/restore continues bit-identically.
 */
export class Featurizer {
  readonly #lowPass: LowPass;
  readonly #noise: Butterworth3;
  readonly #sampleRate: number;
  readonly #cutoff: number;
  readonly #noiseCutoff: number;
  readonly #filter = new Float64Array(FILTER_STATE);
  readonly #ring = new Float64Array(AXIS_CHANNELS * WINDOW);
  readonly #times = new Float64Array(WINDOW).fill(Number.NaN);
  readonly #labels = new Int8Array(WINDOW).fill(NO_LABEL);
  readonly #window = new Float64Array(CHANNELS * WINDOW);
  #count = 0;

  constructor(options: FeaturizerOptions = {}) {
    this.#sampleRate = options.sampleRateHz ?? 50;
    this.#cutoff = options.gravityCutoffHz ?? 0.3;
    this.#noiseCutoff = options.noiseCutoffHz ?? 20;
    if (!(Number.isFinite(this.#sampleRate) && this.#sampleRate > 0)) {
      throw new InvalidOptionError(`sampleRateHz must be a positive number, got ${this.#sampleRate}`);
    }
    if (!(this.#cutoff > 0 && this.#cutoff < this.#sampleRate / 2)) {
      throw new InvalidOptionError(
        `gravityCutoffHz must be in (0, ${this.#sampleRate / 2}) (below Nyquist for sampleRateHz ${this.#sampleRate}), got ${this.#cutoff}`,
      );
    }
    if (!(this.#noiseCutoff > this.#cutoff && this.#noiseCutoff < this.#sampleRate / 2)) {
      throw new InvalidOptionError(
        `noiseCutoffHz must be in (${this.#cutoff}, ${this.#sampleRate / 2}) (above gravityCutoffHz, below Nyquist for sampleRateHz ${this.#sampleRate}), got ${this.#noiseCutoff}`,
      );
    }
    this.#lowPass = new LowPass(this.#cutoff, this.#sampleRate);
    this.#noise = new Butterworth3(this.#noiseCutoff, this.#sampleRate);
  }

  /** Samples pushed so far. */
  get samples(): number {
    return this.#count;
  }

  /**
   * Pushes consecutive samples (flat rows of 6: acc x, y, z, gyro x, y, z),
   * with optional per-sample labels and timestamps; returns the windows they
   * completed, oldest first. A batch with a non-finite value or a wrong shape
   * is refused whole (InvalidValueError), before any state changes.
   */
  push(
    samples: ArrayLike<number>,
    labels?: readonly (string | null)[] | null,
    timestamps?: ArrayLike<number> | null,
  ): FeatureWindow[] {
    if (samples.length % INPUT_CHANNELS !== 0) {
      throw new InvalidValueError(`samples must be rows of 6 values, got ${samples.length} values`);
    }
    const n = samples.length / INPUT_CHANNELS;
    if (labels && labels.length !== n) throw new InvalidValueError(`${labels.length} labels for ${n} samples`);
    if (timestamps && timestamps.length !== n) {
      throw new InvalidValueError(`${timestamps.length} timestamps for ${n} samples`);
    }
    for (let i = 0; i < samples.length; i++) {
      if (!Number.isFinite(samples[i])) {
        const s = Math.floor(i / INPUT_CHANNELS);
        throw new InvalidValueError(
          `sample ${this.#count + s} (batch row ${s}) ${CHANNEL_NAMES[i % INPUT_CHANNELS]} is ${samples[i]}; only finite readings are accepted`,
          { context: { sample: this.#count + s, channel: CHANNEL_NAMES[i % INPUT_CHANNELS] } },
        );
      }
    }
    if (timestamps) {
      for (let i = 0; i < n; i++) {
        if (!Number.isFinite(timestamps[i])) {
          throw new InvalidValueError(`timestamp of batch row ${i} is ${timestamps[i]}; timestamps must be finite`);
        }
      }
    }
    let out: FeatureWindow[] | undefined;
    for (let s = 0; s < n; s++) {
      const label = labels
        ? (LABEL_CODES.get(labels[s] as string) ?? (labels[s] == null ? NO_LABEL : OTHER_LABEL))
        : NO_LABEL;
      this.#step(samples, s * INPUT_CHANNELS, label, timestamps ? timestamps[s] : Number.NaN);
      if (this.#count >= WINDOW && (this.#count - WINDOW) % STEP === 0) (out ??= []).push(this.#emit());
    }
    return out ?? [];
  }

  #step(samples: ArrayLike<number>, at: number, label: number, time: number): void {
    const st = this.#filter;
    const lp = this.#lowPass;
    const noise = this.#noise;
    const pos = this.#count % WINDOW;
    const ring = this.#ring;
    const fs = this.#sampleRate;
    const first = this.#count === 0;
    // Before the first sample there is no history: the median sees it three times, as if the
    // phone had been still at it, which is also the state the filters below start in.
    if (first) for (let c = 0; c < INPUT_CHANNELS; c++) st[RAW + c] = st[RAW + INPUT_CHANNELS + c] = samples[at + c];
    else st.copyWithin(RAW, RAW + INPUT_CHANNELS, FILTER_STATE);
    for (let c = 0; c < INPUT_CHANNELS; c++) st[NEWEST + c] = samples[at + c];
    const accAt = RAW + INPUT_CHANNELS * vectorMedian3(st, RAW, RAW + INPUT_CHANNELS, NEWEST);
    const gyroAt = RAW + 3 + INPUT_CHANNELS * vectorMedian3(st, RAW + 3, RAW + 9, NEWEST + 3);
    for (let a = 0; a < 3; a++) {
      const accIn = st[accAt + a];
      const gyroIn = st[gyroAt + a];
      // Starting the filters in steady state on the first sample avoids a transient (multi-second
      // for gravity) in which the phone's resting reading would look like a jolt into motion.
      if (first) {
        noise.steadyState(accIn, st, NOISE + 3 * a);
        noise.steadyState(gyroIn, st, NOISE + 3 * (3 + a));
      }
      const acc = noise.step(accIn, st, NOISE + 3 * a);
      const gyro = noise.step(gyroIn, st, NOISE + 3 * (3 + a));
      if (first) lp.steadyState(acc, st, a * 2);
      const gravity = lp.step(acc, st, a * 2);
      const body = acc - gravity;
      const jerk = first ? 0 : (body - st[PREV_BODY + a]) * fs;
      const gyroJerk = first ? 0 : (gyro - st[PREV_GYRO + a]) * fs;
      st[PREV_BODY + a] = body;
      st[PREV_GYRO + a] = gyro;
      ring[(CH.body + a) * WINDOW + pos] = body;
      ring[(CH.gravity + a) * WINDOW + pos] = gravity;
      ring[(CH.jerk + a) * WINDOW + pos] = jerk;
      ring[(CH.gyro + a) * WINDOW + pos] = gyro;
      ring[(CH.gyroJerk + a) * WINDOW + pos] = gyroJerk;
    }
    this.#labels[pos] = label;
    this.#times[pos] = time;
    this.#count++;
  }

  /**
   * Moves the state into another accelerometer frame, `x' = M x + shift` (gyro: `M x`), as when a
   * device calibration changes (src/calibration/): the median's raw samples, the noise and gravity
   * filters, the jerks' previous samples and the window in progress become what they would be had
   * every sample so far been pushed in the new frame. `matrix` must be a rotation, as calibrations
   * are: the vector median then picks the same sample in either frame. Every other signal is linear
   * in the input and both filters' gain at 0 Hz is 1, so this is exact: no restart, no transient,
   * and the window grid stays where it was.
   */
  changeFrame(matrix: ArrayLike<number>, shift: ArrayLike<number>): void {
    const st = this.#filter;
    for (let k = 0; k < 3; k++) {
      turn(st, RAW + k * INPUT_CHANNELS, 1, matrix, shift);
      turn(st, RAW + k * INPUT_CHANNELS + 3, 1, matrix, null);
    }
    // Noise filter state, per slot j over the three axes: linear, plus the steady state of the shift.
    const steady = this.#noise.steady;
    for (let j = 0; j < 3; j++) {
      turn(st, NOISE + j, 3, matrix, [steady[j] * shift[0], steady[j] * shift[1], steady[j] * shift[2]]);
      turn(st, NOISE + 9 + j, 3, matrix, null);
    }
    const lp = this.#lowPass;
    // Filter state (z1, z2) per axis: linear in the input, plus the steady state of the constant shift.
    const z1 = [(1 - lp.b0) * shift[0], (1 - lp.b0) * shift[1], (1 - lp.b0) * shift[2]];
    const z2 = [(lp.b2 - lp.a2) * shift[0], (lp.b2 - lp.a2) * shift[1], (lp.b2 - lp.a2) * shift[2]];
    turn(st, 0, 2, matrix, z1);
    turn(st, 1, 2, matrix, z2);
    turn(st, PREV_BODY, 1, matrix, null);
    turn(st, PREV_GYRO, 1, matrix, null);
    const ring = this.#ring;
    for (let i = 0; i < WINDOW; i++) {
      turn(ring, CH.body * WINDOW + i, WINDOW, matrix, null);
      turn(ring, CH.gravity * WINDOW + i, WINDOW, matrix, shift);
      turn(ring, CH.jerk * WINDOW + i, WINDOW, matrix, null);
      turn(ring, CH.gyro * WINDOW + i, WINDOW, matrix, null);
      turn(ring, CH.gyroJerk * WINDOW + i, WINDOW, matrix, null);
    }
  }

  #emit(): FeatureWindow {
    const start = this.#count % WINDOW;
    const ring = this.#ring;
    const win = this.#window;
    const tail = WINDOW - start;
    for (let c = 0; c < AXIS_CHANNELS; c++) {
      const base = c * WINDOW;
      win.set(ring.subarray(base + start, base + WINDOW), base);
      win.set(ring.subarray(base, base + start), base + tail);
    }
    // Magnitudes follow the axis signals: body acc, gravity, body jerk, gyro, gyro jerk.
    for (let m = 0; m < 5; m++) {
      const x = m * 3 * WINDOW;
      const dst = (AXIS_CHANNELS + m) * WINDOW;
      for (let i = 0; i < WINDOW; i++) {
        const vx = win[x + i];
        const vy = win[x + WINDOW + i];
        const vz = win[x + 2 * WINDOW + i];
        win[dst + i] = Math.sqrt(vx * vx + vy * vy + vz * vz);
      }
    }
    const features = new Float64Array(FEATURE_NAMES.length);
    computeFeatures(win, features);
    const code = this.#labels[0];
    let uniform = code >= 0;
    for (let i = 1; i < WINDOW && uniform; i++) uniform = this.#labels[i] === code;
    const t0 = this.#times[start];
    const t1 = this.#times[(start + WINDOW - 1) % WINDOW];
    const timed = !Number.isNaN(t0) && !Number.isNaN(t1);
    return {
      features,
      firstSample: this.#count - WINDOW,
      lastSample: this.#count - 1,
      startTime: timed ? t0 : null,
      endTime: timed ? t1 : null,
      label: uniform ? ACTIVITIES[code] : null,
    };
  }

  #state(): FeaturizerState {
    return {
      sampleRateHz: this.#sampleRate,
      gravityCutoffHz: this.#cutoff,
      noiseCutoffHz: this.#noiseCutoff,
      samples: this.#count,
      filter: this.#filter,
      ring: this.#ring,
      times: this.#times,
      labels: this.#labels,
    };
  }

  /** The state (options, filter, partial window ring, labels, timestamps) as bytes; `restore` continues bit-identically. */
  snapshot(): Uint8Array {
    return encodeState(this.#state());
  }

  /** A featurizer continuing from `snapshot()` bytes; SnapshotInvalidError when they are corrupt or of another version. */
  static restore(bytes: Uint8Array): Featurizer {
    const probe = new Featurizer();
    const state = probe.#state();
    decodeState(bytes, state, [OTHER_LABEL, ACTIVITIES.length - 1]);
    let f: Featurizer;
    try {
      f = new Featurizer({
        sampleRateHz: state.sampleRateHz,
        gravityCutoffHz: state.gravityCutoffHz,
        noiseCutoffHz: state.noiseCutoffHz,
      });
    } catch (err) {
      throw new SnapshotInvalidError('featurizer snapshot holds invalid options', { cause: err });
    }
    f.#count = state.samples;
    f.#filter.set(state.filter);
    f.#ring.set(state.ring);
    f.#times.set(state.times);
    f.#labels.set(state.labels);
    return f;
  }
}
