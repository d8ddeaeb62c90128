import { InvalidValueError, SnapshotInvalidError } from '../errors.ts';
import { AdwinStore } from './adwin-store.ts';
import type { AdwinOptions } from './options.ts';
import { readSnapshot, writeSnapshot } from './snapshot.ts';

/** One feature's drift found by a bank update. */
export interface DriftFinding {
  feature: string;
  index: number;
  /** Window width including the new value, before the cut. */
  widthBefore: number;
  /** Window width after the cut: the post-drift window. */
  widthAfter: number;
  /** Mean of the part the cut dropped (the pre-drift sub-window). */
  meanBefore: number;
  /** Mean of the window kept (the post-drift sub-window). */
  meanAfter: number;
  /** Position of the vector that completed the cut (its offset in the stream). */
  position: number;
}

const NONE: readonly DriftFinding[] = Object.freeze([]);

/**
 * One ADWIN per feature for one stream key (a device, or a device and
 * activity), all in one struct-of-arrays store: thousands of banks fit in
 * memory (see `bytesPerDetector` in bench/adwin.ts).
 */
export class DetectorBank {
  readonly features: readonly string[];
  readonly #store: AdwinStore;
  #updates = 0;

  constructor(features: readonly string[], options: AdwinOptions = {}, store?: AdwinStore) {
    this.features = features;
    this.#store = store ?? new AdwinStore(features.length, options);
    if (this.#store.size !== features.length) {
      throw new SnapshotInvalidError(
        `bank snapshot holds ${this.#store.size} detectors for ${features.length} features`,
      );
    }
  }

  /** The ADWIN significance value of every detector of the bank. */
  get delta(): number {
    return this.#store.options.delta;
  }

  /** Vectors seen since the bank was made. */
  get updates(): number {
    return this.#updates;
  }

  /** Bytes of typed-array state held by the bank's detectors. */
  get byteLength(): number {
    return this.#store.byteLength;
  }

  width(feature: number): number {
    return this.#store.width(feature);
  }

  estimation(feature: number): number {
    return this.#store.estimation(feature);
  }

  /**
   * Feeds one feature vector; returns the features whose detector found a cut
   * (a shared empty array when none did: nothing is allocated on the common path).
   * A vector with a non-finite value is refused whole, before any detector moves.
   */
  update(vector: ArrayLike<number>, position: number): readonly DriftFinding[] {
    const n = this.features.length;
    if (vector.length !== n) {
      throw new InvalidValueError(`feature vector has ${vector.length} values, the bank expects ${n}`);
    }
    for (let k = 0; k < n; k++) {
      if (!Number.isFinite(vector[k])) {
        throw new InvalidValueError(`feature "${this.features[k]}" is ${vector[k]}; only finite values are accepted`, {
          context: { feature: this.features[k], index: k },
        });
      }
    }
    this.#updates++;
    const store = this.#store;
    let found: DriftFinding[] | undefined;
    for (let k = 0; k < n; k++) {
      if (!store.update(k, vector[k])) continue;
      const widthBefore = store.lastWidthBefore;
      const widthAfter = store.width(k);
      const dropped = widthBefore - widthAfter;
      (found ??= []).push({
        feature: this.features[k],
        index: k,
        widthBefore,
        widthAfter,
        meanBefore: dropped > 0 ? (store.lastTotalBefore - store.total(k)) / dropped : Number.NaN,
        meanAfter: store.estimation(k),
        position,
      });
    }
    return found ?? NONE;
  }

  snapshot(): Uint8Array {
    const body = writeSnapshot(
      this.#store,
      this.features.map((_, k) => k),
    );
    const out = new Uint8Array(body.length + 8);
    new DataView(out.buffer).setFloat64(0, this.#updates, true);
    out.set(body, 8);
    return out;
  }

  static restore(bytes: Uint8Array, features: readonly string[]): DetectorBank {
    if (bytes.byteLength < 8) throw new SnapshotInvalidError('detector bank snapshot is too short');
    const updates = new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0, true);
    const bank = new DetectorBank(features, {}, readSnapshot(bytes.subarray(8)));
    bank.#updates = updates;
    return bank;
  }
}
