import { InvalidOptionError } from '../errors.ts';

/** ADWIN's parameters, with river's names and defaults (`river.drift.ADWIN`). */
export interface AdwinOptions {
  /** Significance value of the cut test. @defaultValue 0.002 */
  delta?: number;
  /** Check for a cut every `clock` updates. @defaultValue 32 */
  clock?: number;
  /** Buckets of each size kept before two are merged. @defaultValue 5 */
  maxBuckets?: number;
  /** Smallest sub-window a cut may leave on either side. @defaultValue 5 */
  minWindowLength?: number;
  /** No cut is tested before the window holds more than this many values. @defaultValue 10 */
  gracePeriod?: number;
}

export type ResolvedAdwinOptions = Required<AdwinOptions>;

const ADWIN_DEFAULTS: ResolvedAdwinOptions = {
  delta: 0.002,
  clock: 32,
  maxBuckets: 5,
  minWindowLength: 5,
  gracePeriod: 10,
};

export function resolveAdwinOptions(options: AdwinOptions = {}): ResolvedAdwinOptions {
  const o = { ...ADWIN_DEFAULTS, ...options };
  if (!(o.delta > 0 && o.delta < 1)) throw new InvalidOptionError(`ADWIN delta must be in (0, 1), got ${o.delta}`);
  if (!Number.isInteger(o.clock) || o.clock < 1) {
    throw new InvalidOptionError(`ADWIN clock must be a positive integer (1 checks at every value), got ${o.clock}`);
  }
  // Bucket counts live in a Uint8Array; a row's two oldest buckets merge before a new one would make it maxBuckets + 1.
  if (!Number.isInteger(o.maxBuckets) || o.maxBuckets < 2 || o.maxBuckets > 254) {
    throw new InvalidOptionError(`ADWIN maxBuckets must be an integer in [2, 254], got ${o.maxBuckets}`);
  }
  if (!Number.isInteger(o.minWindowLength) || o.minWindowLength < 1) {
    throw new InvalidOptionError(`ADWIN minWindowLength must be a positive integer, got ${o.minWindowLength}`);
  }
  if (!Number.isInteger(o.gracePeriod) || o.gracePeriod < 0) {
    throw new InvalidOptionError(`ADWIN gracePeriod must be a non-negative integer, got ${o.gracePeriod}`);
  }
  return o;
}
