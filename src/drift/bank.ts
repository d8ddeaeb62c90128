import { InvalidValueError, SnapshotInvalidError } from '../errors.ts';
import { AdwinStore } from './adwin-store.ts';
import type { AdwinOptions } from './options.ts';
import { checksum, readSnapshot, writeSnapshot } from './snapshot.ts';

/** A stream position: a Kafka offset as a number, or a bigint where offsets may pass 2^53. */
export type Position = number | bigint;

/** One feature's drift found by a bank update. */
export interface DriftFinding<P extends Position = number> {
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
  /** Position of the vector that completed the cut (its offset in the stream), as given to `update`. */
  position: P;
}

const NONE: readonly never[] = Object.freeze([]);
const BANK_MAGIC = 0x42574441; // "ADWB" read as little-endian u32
const BANK_VERSION = 1;
const BANK_HEADER = 4 + 1 + 8 + 4;

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
  update<P extends Position = number>(vector: ArrayLike<number>, position: P): readonly DriftFinding<P>[] {
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
    let found: DriftFinding<P>[] | undefined;
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

  /**
   * Binary snapshot: magic "ADWB" | u8 version | f64 vectors seen | u32 hash of
   * the feature names | the detectors' ADWN snapshot | u32 checksum of all before it.
   */
  snapshot(): Uint8Array {
    const body = writeSnapshot(
      this.#store,
      this.features.map((_, k) => k),
    );
    const out = new Uint8Array(BANK_HEADER + body.length + 4);
    const view = new DataView(out.buffer);
    view.setUint32(0, BANK_MAGIC, true);
    view.setUint8(4, BANK_VERSION);
    view.setFloat64(5, this.#updates, true);
    view.setUint32(13, namesHash(this.features), true);
    out.set(body, BANK_HEADER);
    view.setUint32(out.length - 4, checksum(out.subarray(0, out.length - 4)), true);
    return out;
  }

  /** Restores a bank for the same feature names, in the same order, as the one that made the snapshot. */
  static restore(bytes: Uint8Array, features: readonly string[]): DetectorBank {
    const fail = (why: string): never => {
      throw new SnapshotInvalidError(`detector bank snapshot is invalid: ${why}`);
    };
    if (bytes.byteLength < BANK_HEADER + 4) fail(`too short (${bytes.byteLength} bytes)`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getUint32(0, true) !== BANK_MAGIC) fail('not a detector bank snapshot (bad magic)');
    const version = view.getUint8(4);
    if (version !== BANK_VERSION) fail(`unknown version ${version} (this build reads version ${BANK_VERSION})`);
    const end = bytes.byteLength - 4;
    if (checksum(bytes.subarray(0, end)) !== view.getUint32(end, true))
      fail('checksum mismatch (truncated or corrupted)');
    if (view.getUint32(13, true) !== namesHash(features)) {
      fail(`it was made for other feature names than the ${features.length} given`);
    }
    const bank = new DetectorBank(features, {}, readSnapshot(bytes.subarray(BANK_HEADER, end)));
    bank.#updates = view.getFloat64(5, true);
    return bank;
  }
}

/** Per feature list: every bank of a detector shares one, and each snapshot hashed it again. */
const namesHashes = new WeakMap<readonly string[], number>();

function namesHash(features: readonly string[]): number {
  let hash = namesHashes.get(features);
  if (hash === undefined) {
    hash = checksum(new TextEncoder().encode(features.join('\0')));
    namesHashes.set(features, hash);
  }
  return hash;
}
