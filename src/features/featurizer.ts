import { ACTIVITIES } from '../data/hapt.ts';
import { InvalidOptionError, InvalidValueError, SnapshotInvalidError } from '../errors.ts';
import { computeFeatures } from './compute.ts';
import { LowPass, WINDOW } from './dsp.ts';
import { FEATURE_NAMES, TIME_CHANNELS } from './plan.ts';

export const STEP = WINDOW / 2;
const CHANNELS = TIME_CHANNELS.length;
const NO_LABEL = -1;
const OTHER_LABEL = -2;

/** One completed window of a device's stream. */
export interface FeatureWindow {
  features: Float64Array;
  /** Stream index of the window's first and last sample (0-based, counting every sample pushed). */
  firstSample: number;
  lastSample: number;
  /** The activity when all 128 samples carry the same basic-activity label, else null. */
  label: string | null;
}

export interface FeaturizerOptions {
  /** @defaultValue 50 */
  sampleRateHz?: number;
  /** Cut-off of the low-pass that separates gravity from body acceleration (UCI HAR uses 0.3 Hz). @defaultValue 0.3 */
  gravityCutoffHz?: number;
}

const labelCode = (label: string | null | undefined): number => {
  if (label == null) return NO_LABEL;
  const i = (ACTIVITIES as readonly string[]).indexOf(label);
  return i >= 0 ? i : OTHER_LABEL;
};

/**
 * Turns one device's raw 50 Hz readings (acc x/y/z in g, gyro x/y/z in rad/s)
 * into feature vectors over 128-sample windows with a 64-sample step.
 *
 * Incremental: state is the gravity filter, the previous sample (for jerk) and
 * a 128-sample ring of derived channels; every sample is processed once, so
 * any batching of the same readings gives bit-identical windows.
 */
export class Featurizer {
  readonly #lowPass: LowPass;
  readonly #sampleRate: number;
  readonly #ring = new Float64Array(CHANNELS * WINDOW);
  readonly #labels = new Int8Array(WINDOW);
  /** z1, z2 of the gravity filter per acc axis, then previous body acc (3) and gyro (3). */
  readonly #state = new Float64Array(12);
  #count = 0;
  readonly #window = new Float64Array(CHANNELS * WINDOW);

  constructor(options: FeaturizerOptions = {}) {
    this.#sampleRate = options.sampleRateHz ?? 50;
    const cutoff = options.gravityCutoffHz ?? 0.3;
    if (!(this.#sampleRate > 0)) throw new InvalidOptionError(`sampleRateHz must be positive, got ${this.#sampleRate}`);
    if (!(cutoff > 0 && cutoff < this.#sampleRate / 2)) {
      throw new InvalidOptionError(`gravityCutoffHz must be in (0, ${this.#sampleRate / 2}), got ${cutoff}`);
    }
    this.#lowPass = new LowPass(cutoff, this.#sampleRate);
  }

  /** Samples pushed so far. */
  get samples(): number {
    return this.#count;
  }

  /**
   * Pushes consecutive samples (flat rows of 6: acc x, y, z, gyro x, y, z)
   * with optional per-sample labels; returns the windows they completed.
   * A batch holding a non-finite value is refused whole, before any state changes.
   */
  push(samples: ArrayLike<number>, labels?: readonly (string | null)[] | null): FeatureWindow[] {
    if (samples.length % 6 !== 0) {
      throw new InvalidValueError(`samples must be rows of 6 values, got ${samples.length} values`);
    }
    const n = samples.length / 6;
    if (labels && labels.length !== n) {
      throw new InvalidValueError(`${labels.length} labels for ${n} samples`);
    }
    for (let i = 0; i < samples.length; i++) {
      if (!Number.isFinite(samples[i])) {
        throw new InvalidValueError(
          `sample ${Math.floor(i / 6)} channel ${i % 6} is ${samples[i]}; only finite values are accepted`,
        );
      }
    }
    let out: FeatureWindow[] | undefined;
    for (let s = 0; s < n; s++) {
      this.#step(samples, s * 6, labels ? labelCode(labels[s]) : NO_LABEL);
      if (this.#count >= WINDOW && (this.#count - WINDOW) % STEP === 0) (out ??= []).push(this.#emit());
    }
    return out ?? [];
  }

  #step(samples: ArrayLike<number>, at: number, label: number): void {
    const st = this.#state;
    const lp = this.#lowPass;
    const pos = this.#count % WINDOW;
    const ring = this.#ring;
    const fs = this.#sampleRate;
    const first = this.#count === 0;
    let bodyMag = 0;
    let gravMag = 0;
    let jerkMag = 0;
    let gyroMag = 0;
    let gyroJerkMag = 0;
    for (let a = 0; a < 3; a++) {
      const acc = samples[at + a];
      const gyro = samples[at + 3 + a];
      if (first) lp.steadyState(acc, st, a * 2);
      const gravity = lp.step(acc, st, a * 2);
      const body = acc - gravity;
      const jerk = first ? 0 : (body - st[6 + a]) * fs;
      const gyroJerk = first ? 0 : (gyro - st[9 + a]) * fs;
      st[6 + a] = body;
      st[9 + a] = gyro;
      ring[a * WINDOW + pos] = body;
      ring[(3 + a) * WINDOW + pos] = gravity;
      ring[(6 + a) * WINDOW + pos] = jerk;
      ring[(9 + a) * WINDOW + pos] = gyro;
      ring[(12 + a) * WINDOW + pos] = gyroJerk;
      bodyMag += body * body;
      gravMag += gravity * gravity;
      jerkMag += jerk * jerk;
      gyroMag += gyro * gyro;
      gyroJerkMag += gyroJerk * gyroJerk;
    }
    ring[15 * WINDOW + pos] = Math.sqrt(bodyMag);
    ring[16 * WINDOW + pos] = Math.sqrt(gravMag);
    ring[17 * WINDOW + pos] = Math.sqrt(jerkMag);
    ring[18 * WINDOW + pos] = Math.sqrt(gyroMag);
    ring[19 * WINDOW + pos] = Math.sqrt(gyroJerkMag);
    this.#labels[pos] = label;
    this.#count++;
  }

  #emit(): FeatureWindow {
    const start = this.#count % WINDOW;
    const ring = this.#ring;
    const win = this.#window;
    const tail = WINDOW - start;
    for (let c = 0; c < CHANNELS; c++) {
      const base = c * WINDOW;
      win.set(ring.subarray(base + start, base + WINDOW), base);
      win.set(ring.subarray(base, base + start), base + tail);
    }
    const features = new Float64Array(FEATURE_NAMES.length);
    computeFeatures(win, features);
    const first = this.#labels[0];
    let label: string | null = first >= 0 ? ACTIVITIES[first] : null;
    for (let i = 1; i < WINDOW && label !== null; i++) if (this.#labels[i] !== first) label = null;
    return { features, firstSample: this.#count - WINDOW, lastSample: this.#count - 1, label };
  }

  /** Compact state: count, filter and jerk state, the rings. `Featurizer.restore` continues bit-identically. */
  snapshot(): Uint8Array {
    const bytes = new Uint8Array(4 + 1 + 8 + 8 + 12 * 8 + CHANNELS * WINDOW * 8 + WINDOW);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, 0x5a544146, true); // "FATZ"
    view.setUint8(4, 1);
    view.setFloat64(5, this.#sampleRate, true);
    view.setFloat64(13, this.#count, true);
    let o = 21;
    for (const v of this.#state) {
      view.setFloat64(o, v, true);
      o += 8;
    }
    for (const v of this.#ring) {
      view.setFloat64(o, v, true);
      o += 8;
    }
    bytes.set(new Uint8Array(this.#labels.buffer), o);
    return bytes;
  }

  static restore(bytes: Uint8Array, options: FeaturizerOptions = {}): Featurizer {
    const expected = 4 + 1 + 8 + 8 + 12 * 8 + CHANNELS * WINDOW * 8 + WINDOW;
    if (bytes.byteLength !== expected) {
      throw new SnapshotInvalidError(`featurizer snapshot has ${bytes.byteLength} bytes, expected ${expected}`);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getUint32(0, true) !== 0x5a544146) throw new SnapshotInvalidError('not a featurizer snapshot (bad magic)');
    if (view.getUint8(4) !== 1)
      throw new SnapshotInvalidError(`unknown featurizer snapshot version ${view.getUint8(4)}`);
    const f = new Featurizer({ ...options, sampleRateHz: view.getFloat64(5, true) });
    f.#count = view.getFloat64(13, true);
    let o = 21;
    for (let i = 0; i < 12; i++, o += 8) f.#state[i] = view.getFloat64(o, true);
    for (let i = 0; i < f.#ring.length; i++, o += 8) f.#ring[i] = view.getFloat64(o, true);
    f.#labels.set(new Int8Array(bytes.buffer.slice(bytes.byteOffset + o, bytes.byteOffset + o + WINDOW)));
    return f;
  }
}
