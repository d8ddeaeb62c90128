import { SnapshotInvalidError } from '../errors.ts';
import { AdwinStore } from './adwin-store.ts';
import type { AdwinOptions } from './options.ts';
import { readSnapshot, writeSnapshot } from './snapshot.ts';

/**
 * ADWIN drift detector with river's contract (`river.drift.ADWIN`):
 * `update(x)` returns the detector, `driftDetected` is true for exactly the
 * update that found a cut, and no I/O happens inside. Same parameters,
 * defaults and results as river (checked against river's own output in
 * test/drift/adwin.test.ts).
 *
 * Non-finite input (NaN, ±Infinity) is refused: `update` throws
 * InvalidValueError and the detector is left exactly as it was.
 */
export class Adwin {
  readonly #store: AdwinStore;

  constructor(options: AdwinOptions = {}, store?: AdwinStore) {
    this.#store = store ?? new AdwinStore(1, options);
  }

  update(x: number): this {
    this.#store.update(0, x);
    return this;
  }

  get driftDetected(): boolean {
    return this.#store.driftDetected(0);
  }

  /** Number of values in the window. */
  get width(): number {
    return this.#store.width(0);
  }

  /** Mean of the window (0 when empty). */
  get estimation(): number {
    return this.#store.estimation(0);
  }

  /** Sum of squared deviations from the window's mean: what river's `ADWIN.variance` returns. */
  get variance(): number {
    return this.#store.variance(0);
  }

  get total(): number {
    return this.#store.total(0);
  }

  /** Detections since this detector was made (river's own counter restarts at each reset after a drift). */
  get nDetections(): number {
    return this.#store.nDetections(0);
  }

  /** Bytes of typed-array state this detector holds. */
  get byteLength(): number {
    return this.#store.byteLength;
  }

  /** A compact binary snapshot; `Adwin.restore` continues bit-identically from it. */
  snapshot(): Uint8Array {
    return writeSnapshot(this.#store, [0]);
  }

  static restore(bytes: Uint8Array): Adwin {
    const store = readSnapshot(bytes);
    if (store.size !== 1) {
      throw new SnapshotInvalidError(
        `ADWIN snapshot holds ${store.size} detectors, not one; use DetectorBank.restore for a bank`,
      );
    }
    return new Adwin({}, store);
  }
}
