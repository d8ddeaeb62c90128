import { SnapshotInvalidError } from '../errors.ts';
import { BUTTERWORTH3_STATE, Butterworth3 } from './dsp.ts';
import type { F64Reader, F64Writer } from './resample-codec.ts';
import { hermite } from './resample-interp.ts';
import { estimateRate, RATE_INTERVALS } from './resample-rate.ts';

export { RATE_INTERVALS } from './resample-rate.ts';

/** Spacing of the output grid: the featurizer's 50 Hz. */
export const GRID_MS = 20;
export const GRID_RATE_HZ = 1000 / GRID_MS;
/**
 * A grid instant within this of a point takes the point's value as is, so on-grid 50 Hz input
 * passes through bit-identically (1 µs: four ulps of an epoch-ms timestamp, a thousandth of a
 * 50 Hz period, far below any phone's clock resolution).
 */
export const SNAP_MS = 1e-3;

/**
 * Filtered points closer than this fraction of the input period to the previous one are skipped:
 * the filtered time crawls for the first samples of a segment (see `#process`), and points a few
 * µs apart would make the interpolation's slopes ill-conditioned.
 */
const MIN_SPACING = 0.25;
/**
 * A filtered sensor restarts its filter (not its segment) after an interval longer than 1.5 periods
 * plus this much jitter (ms): a missing reading. The filter treats readings as evenly spaced, and a
 * weighted mean of readings on both sides of a hole is the signal's value at their mean time only
 * where the signal is straight: across the 95 ms hole of the tests it was 0.4 off on a 3 Hz sine.
 * Restarted, the points stop short of the hole and resume after it, and the cubic bridges it.
 */
const JITTER_MS = 4;

/** `offer` results. */
export const ACCEPTED = 0;
export const LATE = 1;
export const DUPLICATE = 2;
/** `at` results. */
export const WAIT = 0;
export const READY = 1;
export const HOLE = 2;
/** As HOLE, but the segment ended with the stream (`close`), not at a gap. */
export const END = 3;

/** Stride of the reorder buffer, the held samples and the points: time, x, y, z. */
const S = 4;
const MAX_SAVED = 1 << 26;

/** Rows of S in a buffer restored from a snapshot. */
function rows(a: Float64Array, name: string): number {
  if (a.length % S !== 0) throw new SnapshotInvalidError(`resampler snapshot: ${name} is not rows of ${S}`);
  return a.length / S;
}

function grow(a: Float64Array, needed: number): Float64Array {
  if (needed <= a.length) return a;
  const size = Math.max(needed, a.length * 2);
  const out = new Float64Array(size);
  out.set(a);
  return out;
}

export interface SensorConfig {
  maxGapMs: number;
  reorderToleranceMs: number;
  cutoffHz: number;
  /** Input rate, or 0 to estimate it. */
  rateHz: number;
}

/**
 * One sensor's stream on its way to the grid, in three stages, each sample passing each once:
 * 1. reorder: readings wait in a sorted buffer until the newest timestamp seen is
 *    `reorderToleranceMs` past them, then are released in time order; one at or before the last
 *    released time is late (or a duplicate) and dropped. Release depends only on this sensor's
 *    own readings, in arrival order, so it does not depend on batching or on the other sensor.
 * 2. conditioning: the first readings are held until the input rate is known; a released reading
 *    more than `maxGapMs` after the previous one starts a new segment; above 50 Hz each segment runs
 *    through a 3rd-order Butterworth (anti-aliasing), started in steady state on its first reading.
 * 3. points: (time, x, y, z) of the current segment(s), which `at` interpolates on the grid.
 */
export class SensorStream {
  readonly #cfg: SensorConfig;
  #rate = 0;
  #filter: Butterworth3 | null = null;
  #minSpacing = 0;
  #bridge = 0;
  // Stage 1.
  #maxSeen = Number.NEGATIVE_INFINITY;
  #released = Number.NEGATIVE_INFINITY;
  #pend: Float64Array = new Float64Array(S * 64);
  #p0 = 0;
  #p1 = 0;
  // Stage 2: rate estimation, then segments.
  #held: Float64Array = new Float64Array(S * 64);
  #heldN = 0;
  readonly #intervals = new Float64Array(RATE_INTERVALS);
  #intervalN = 0;
  #open = false;
  #origin = 0;
  #lastT = 0;
  /** Butterworth state for the time (relative to `#origin`), x, y, z. */
  readonly #fs = new Float64Array(S * BUTTERWORTH3_STATE);
  /** Readings closer than the minimum spacing to the previous one, unfiltered (near-duplicates). */
  crowded = 0;
  // Stage 3.
  #pt: Float64Array = new Float64Array(S * 256);
  #starts = new Uint8Array(256);
  #n = 0;
  /** The last point at or before the grid instant asked last, and the time its segment starts (NaN: no point yet). */
  #cur = 0;
  #segT = Number.NaN;
  /** True after `close` until the next reading: the last segment has ended. */
  #closed = false;

  constructor(cfg: SensorConfig) {
    this.#cfg = cfg;
    if (cfg.rateHz > 0) this.#setRate(cfg.rateHz);
  }

  /** Input rate (Hz) in use, given or estimated; 0 until known. */
  get rateHz(): number {
    return this.#rate;
  }

  /** Whether this sensor's readings are low-passed before interpolation. */
  get filtered(): boolean {
    return this.#filter !== null;
  }

  #setRate(rate: number): void {
    this.#rate = rate;
    this.#filter = rate > GRID_RATE_HZ ? new Butterworth3(this.#cfg.cutoffHz, rate) : null;
    this.#minSpacing = (MIN_SPACING * 1000) / rate;
    this.#bridge = 1500 / rate + JITTER_MS;
  }

  /** Stage 1: one reading `(t, v[at], v[at + 1], v[at + 2])`. */
  offer(t: number, v: ArrayLike<number>, at: number): number {
    if (t <= this.#released) return t === this.#released ? DUPLICATE : LATE;
    if (this.#p1 * S === this.#pend.length) {
      if (this.#p0 > 0) {
        this.#pend.copyWithin(0, this.#p0 * S, this.#p1 * S);
        this.#p1 -= this.#p0;
        this.#p0 = 0;
      } else this.#pend = grow(this.#pend, this.#pend.length + S);
    }
    const p = this.#pend;
    let i = this.#p1;
    while (i > this.#p0 && p[(i - 1) * S] > t) i--;
    if (i > this.#p0 && p[(i - 1) * S] === t) return DUPLICATE;
    if (i < this.#p1) p.copyWithin((i + 1) * S, i * S, this.#p1 * S);
    p[i * S] = t;
    p[i * S + 1] = v[at];
    p[i * S + 2] = v[at + 1];
    p[i * S + 3] = v[at + 2];
    this.#p1++;
    if (t > this.#maxSeen) this.#maxSeen = t;
    const limit = this.#maxSeen - this.#cfg.reorderToleranceMs;
    while (this.#p0 < this.#p1 && p[this.#p0 * S] <= limit) this.#release(this.#p0++);
    if (this.#p0 === this.#p1) this.#p0 = this.#p1 = 0;
    return ACCEPTED;
  }

  /** End of stream: releases what waits for reordering or for the rate, and ends the last segment. */
  close(): void {
    while (this.#p0 < this.#p1) this.#release(this.#p0++);
    this.#p0 = this.#p1 = 0;
    if (this.#rate === 0 && this.#heldN > 0) {
      // Too few readings to know the rate: estimate from what there is. With no interval at all
      // the readings (each alone between gaps) could not make a row anyway and are let go.
      const rate = estimateRate(this.#intervals, this.#intervalN);
      if (rate > 0) this.#replayHeld(rate);
      this.#heldN = 0;
    }
    this.#open = false;
    this.#closed = true;
  }

  #release(i: number): void {
    const p = this.#pend;
    const t = p[i * S];
    this.#released = t;
    if (this.#rate > 0) {
      this.#process(t, p[i * S + 1], p[i * S + 2], p[i * S + 3]);
      return;
    }
    const h = this.#heldN;
    this.#held = grow(this.#held, (h + 1) * S);
    this.#held.set(p.subarray(i * S, i * S + S), h * S);
    this.#heldN = h + 1;
    if (h > 0) {
      const dt = t - this.#held[(h - 1) * S];
      if (dt <= this.#cfg.maxGapMs) this.#intervals[this.#intervalN++] = dt;
    }
    if (this.#intervalN === RATE_INTERVALS) {
      this.#replayHeld(estimateRate(this.#intervals, RATE_INTERVALS));
      this.#heldN = 0;
    }
  }

  #replayHeld(rate: number): void {
    this.#setRate(rate);
    const h = this.#held;
    for (let j = 0; j < this.#heldN; j++) this.#process(h[j * S], h[j * S + 1], h[j * S + 2], h[j * S + 3]);
  }

  /**
   * Stage 2 for one reading in time order. The filter runs on the time too (relative to the segment's
   * first reading, for precision): it is linear with gain 1 at 0 Hz, so a filtered value is a weighted
   * mean of readings and the filtered time the same mean of their timestamps. Pairing them places each
   * output where its readings were, whatever the jitter: a signal linear in time comes out exact, the
   * filter's group delay (16 ms at 400 Hz for a 20 Hz cut-off) needs no separate correction, and
   * sensors at different rates stay aligned. From the steady state of the segment's first reading the
   * filtered time starts at that reading and crawls at first (the filter's rise).
   */
  #process(t: number, x: number, y: number, z: number): void {
    const f = this.#filter;
    const st = this.#fs;
    const start = !this.#open || t - this.#lastT > this.#cfg.maxGapMs ? 1 : 0;
    if (start === 1 || (f !== null && t - this.#lastT > this.#bridge)) {
      this.#open = true;
      this.#origin = t;
      if (f !== null) {
        f.steadyState(0, st, 0);
        f.steadyState(x, st, BUTTERWORTH3_STATE);
        f.steadyState(y, st, 2 * BUTTERWORTH3_STATE);
        f.steadyState(z, st, 3 * BUTTERWORTH3_STATE);
      }
    }
    this.#lastT = t;
    let pt = t;
    let px = x;
    let py = y;
    let pz = z;
    if (f !== null) {
      pt = this.#origin + f.step(t - this.#origin, st, 0);
      px = f.step(x, st, BUTTERWORTH3_STATE);
      py = f.step(y, st, 2 * BUTTERWORTH3_STATE);
      pz = f.step(z, st, 3 * BUTTERWORTH3_STATE);
    }
    if (start === 0 && pt - this.#pt[(this.#n - 1) * S] < this.#minSpacing) {
      if (f === null) this.crowded++;
      return;
    }
    this.#append(pt, px, py, pz, start);
  }

  #append(t: number, x: number, y: number, z: number, start: number): void {
    if (this.#n === this.#starts.length) {
      // Points before the one ahead of the cursor are never read again (nor earlier segments).
      const keep = this.#keep();
      if (keep > this.#n >> 2) {
        this.#pt.copyWithin(0, keep * S, this.#n * S);
        this.#starts.copyWithin(0, keep, this.#n);
        this.#n -= keep;
        this.#cur -= keep;
      } else {
        this.#pt = grow(this.#pt, this.#pt.length * 2);
        const starts = new Uint8Array(this.#starts.length * 2);
        starts.set(this.#starts);
        this.#starts = starts;
      }
    }
    const o = this.#n * S;
    this.#pt[o] = t;
    this.#pt[o + 1] = x;
    this.#pt[o + 2] = y;
    this.#pt[o + 3] = z;
    if (start === 1 && this.#n === this.#cur) this.#segT = t;
    this.#starts[this.#n++] = start;
    this.#closed = false;
  }

  /** First point still needed: the one before the cursor, for its slope, when in the same segment. */
  #keep(): number {
    const c = this.#cur;
    return c < this.#n && c > 0 && this.#starts[c] === 0 ? c - 1 : c;
  }

  /** Time of the current segment's first point, or NaN when there is none yet. */
  segmentStart(): number {
    return this.#segT;
  }

  /**
   * Whether the current segment reaches `t`: READY when it has a point at or past `t − SNAP_MS`,
   * HOLE when it is known to end before (the caller moves on with `nextSegment`), else WAIT.
   */
  reaches(t: number): number {
    const p = this.#pt;
    const n = this.#n;
    let c = this.#cur;
    while (c + 1 < n && this.#starts[c + 1] === 0 && p[(c + 1) * S] <= t) c++;
    this.#cur = c;
    if (p[c * S] >= t - SNAP_MS || (c + 1 < n && this.#starts[c + 1] === 0)) return READY;
    if (c + 1 < n || this.#closed) return HOLE;
    return WAIT;
  }

  /** Moves past the current segment (known to have ended). */
  nextSegment(): void {
    let e = this.#cur;
    while (e + 1 < this.#n && this.#starts[e + 1] === 0) e++;
    this.#cur = e + 1;
    this.#segT = this.#cur < this.#n ? this.#pt[this.#cur * S] : Number.NaN;
  }

  /**
   * The sensor's 3 values at grid instant `g` into `out[o..o+3)`: READY, or WAIT until the points
   * that decide them are known (the two after `g`, or the segment's end), so a value never depends
   * on how far the stream had got; HOLE when the segment ends before `g` at a gap, END when it
   * ends there with the stream.
   *
   * Between two points, `hermite` (resample-interp.ts).
   */
  at(g: number, out: Float64Array, o: number): number {
    const p = this.#pt;
    const s = this.#starts;
    const n = this.#n;
    let c = this.#cur;
    if (c >= n) return WAIT;
    while (c + 1 < n && s[c + 1] === 0 && p[(c + 1) * S] <= g) c++;
    this.#cur = c;
    if (c + 1 >= n && !this.#closed) return WAIT;
    const t1 = p[c * S];
    if (c + 1 >= n || s[c + 1] === 1) {
      if (g - t1 > SNAP_MS) return c + 1 >= n ? END : HOLE;
      out[o] = p[c * S + 1];
      out[o + 1] = p[c * S + 2];
      out[o + 2] = p[c * S + 3];
      return READY;
    }
    if (c + 2 >= n && !this.#closed) return WAIT;
    const t2 = p[(c + 1) * S];
    if (g - t1 <= SNAP_MS || t2 - g <= SNAP_MS) {
      const q = g - t1 <= SNAP_MS ? c * S : (c + 1) * S;
      out[o] = p[q + 1];
      out[o + 1] = p[q + 2];
      out[o + 2] = p[q + 3];
      return READY;
    }
    hermite(p, g, c, s[c] === 0, c + 2 < n && s[c + 2] === 0, out, o);
    return READY;
  }

  save(w: F64Writer): void {
    w.put(this.#rate);
    w.put(this.#maxSeen);
    w.put(this.#released);
    w.putRange(this.#pend, this.#p0 * S, this.#p1 * S);
    w.putRange(this.#held, 0, this.#heldN * S);
    w.putRange(this.#intervals, 0, this.#intervalN);
    w.put(this.#open ? 1 : 0);
    w.put(this.#origin);
    w.put(this.#lastT);
    w.putRange(this.#fs, 0, this.#fs.length);
    w.put(this.crowded);
    const keep = this.#keep();
    w.putRange(this.#pt, keep * S, this.#n * S);
    w.putRange(this.#starts, keep, this.#n);
    w.put(this.#cur - keep);
    w.put(Number.isNaN(this.#segT) ? Number.NEGATIVE_INFINITY : this.#segT);
    w.put(this.#closed ? 1 : 0);
  }

  load(r: F64Reader): void {
    const rate = r.number('rate', 0, 1e6);
    if (rate > 0) this.#setRate(rate);
    this.#maxSeen = r.time('newest time');
    this.#released = r.time('released time');
    const pend = r.range('reorder buffer', MAX_SAVED);
    this.#p1 = rows(pend, 'reorder buffer');
    this.#pend = grow(pend, S * 64);
    const held = r.range('held readings', MAX_SAVED);
    this.#heldN = rows(held, 'held readings');
    this.#held = grow(held, S * 64);
    const intervals = r.range('intervals', RATE_INTERVALS);
    this.#intervals.set(intervals);
    this.#intervalN = intervals.length;
    this.#open = r.flag('open');
    this.#origin = r.number('origin', -Number.MAX_VALUE, Number.MAX_VALUE);
    this.#lastT = r.number('last time', -Number.MAX_VALUE, Number.MAX_VALUE);
    const fs = r.range('filter state', this.#fs.length);
    if (fs.length !== this.#fs.length) throw new SnapshotInvalidError('resampler snapshot: filter state size');
    this.#fs.set(fs);
    this.crowded = r.count('crowded', Number.MAX_SAFE_INTEGER);
    const pt = r.range('points', MAX_SAVED);
    const starts = r.range('segment starts', MAX_SAVED / S);
    this.#n = starts.length;
    if (pt.length !== this.#n * S || starts.some((v) => v !== 0 && v !== 1)) {
      throw new SnapshotInvalidError('resampler snapshot: points and segment starts disagree');
    }
    this.#pt = grow(pt, S * 256);
    this.#starts = new Uint8Array(Math.max(256, this.#n));
    this.#starts.set(starts);
    this.#cur = r.count('cursor', this.#n);
    const segT = r.time('segment start');
    this.#segT = segT === Number.NEGATIVE_INFINITY ? Number.NaN : segT;
    this.#closed = r.flag('closed');
  }
}
