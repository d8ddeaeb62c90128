import { InvalidValueError } from '../errors.ts';
import { type AdwinOptions, type ResolvedAdwinOptions, resolveAdwinOptions } from './options.ts';

// Scalar slots of a detector, all in one Float64Array row (one typed array
// instead of four keeps a standalone Adwin small: each typed array costs V8
// some 150 bytes of headers).
const TOTAL = 0;
const VARIANCE = 1;
const WIDTH = 2;
const TICK = 3;
const N_ROWS = 4;
const N_BUCKETS = 5;
const DRIFT = 6;
const DETECTIONS = 7;
const M = 8;

const POW2 = Float64Array.from({ length: 64 }, (_, i) => 2 ** i);
// x / 2^k and x * 2^-k are both the correctly rounded value of the same real
// number, so multiplying by the inverse is bit-identical to river's division.
const INV_POW2 = Float64Array.from({ length: 64 }, (_, i) => 2 ** -i);

/**
 * Many ADWIN detectors (Bifet & Gavaldà 2007, ADWIN2 exponential histogram)
 * in one struct-of-arrays store, so thousands of them fit in memory: no object
 * per detector or per bucket, only typed arrays shared by all.
 *
 * The arithmetic is a line-for-line port of river's core (`rust_src/adwin.rs`,
 * itself a port of `river/drift/adwin_c.pyx`), in the same order of
 * operations, so that detections, width, total and variance match
 * `river.drift.ADWIN` bit for bit on the golden fixtures. Like river's
 * `ADWIN.update`, the update after a detection first resets the detector.
 *
 * Bucket row `r` of a detector holds up to `maxBuckets` (total, variance)
 * entries, each summarizing 2^r values; row 0 takes new values.
 */
export class AdwinStore {
  readonly size: number;
  readonly options: ResolvedAdwinOptions;
  /** Width and total of the detector touched by the last `update`, just before its cut (if any). */
  lastWidthBefore = 0;
  lastTotalBefore = 0;

  readonly #entries: number;
  // Options copied into fields: the hot path reads them on every update.
  readonly #maxBuckets: number;
  readonly #clock: number;
  readonly #gracePeriod: number;
  readonly #minWindowLength: number;
  readonly #delta: number;
  #rowsCap: number;
  #cells: Float64Array;
  #counts: Uint8Array;
  readonly #m: Float64Array;

  constructor(size: number, options: AdwinOptions = {}, rowsCap = 1) {
    this.size = size;
    this.options = resolveAdwinOptions(options);
    this.#entries = this.options.maxBuckets;
    this.#maxBuckets = this.options.maxBuckets;
    this.#clock = this.options.clock;
    this.#gracePeriod = this.options.gracePeriod;
    this.#minWindowLength = this.options.minWindowLength;
    this.#delta = this.options.delta;
    this.#rowsCap = rowsCap;
    this.#cells = new Float64Array(size * rowsCap * this.#entries * 2);
    this.#counts = new Uint8Array(size * rowsCap);
    this.#m = new Float64Array(size * M);
    for (let d = 0; d < size; d++) this.#m[d * M + N_ROWS] = 1;
  }

  /** Bytes held in typed arrays (the detectors' whole state). */
  get byteLength(): number {
    return this.#cells.byteLength + this.#counts.byteLength + this.#m.byteLength;
  }

  get rowsCapacity(): number {
    return this.#rowsCap;
  }

  width(d: number): number {
    return this.#m[d * M + WIDTH];
  }

  total(d: number): number {
    return this.#m[d * M + TOTAL];
  }

  /** The sum of squared deviations from the mean of the window (river's `ADWIN.variance`). */
  variance(d: number): number {
    return this.#m[d * M + VARIANCE];
  }

  estimation(d: number): number {
    const w = this.#m[d * M + WIDTH];
    return w === 0 ? 0 : this.#m[d * M + TOTAL] / w;
  }

  driftDetected(d: number): boolean {
    return this.#m[d * M + DRIFT] === 1;
  }

  /** Detections since the detector was made (river's own counter restarts at every reset). */
  nDetections(d: number): number {
    return this.#m[d * M + DETECTIONS];
  }

  /**
   * Adds `x` to detector `d`; returns true when this value completed a cut.
   * NaN and ±Infinity are refused with InvalidValueError and change nothing:
   * one would poison the window's sums for good.
   */
  update(d: number, x: number): boolean {
    if (!Number.isFinite(x)) {
      throw new InvalidValueError(`ADWIN accepts finite numbers only, got ${x}`, { context: { detector: d } });
    }
    const m = this.#m;
    const mb = d * M;
    if (m[mb + DRIFT] === 1) this.reset(d);
    this.lastWidthBefore = m[mb + WIDTH] + 1;
    this.lastTotalBefore = m[mb + TOTAL] + x;
    this.#insert(d, x);
    // river checks for a cut only every `clock` updates, and only past the grace
    // period. Its tick is an i32 that wraps; `| 0` wraps the same way.
    const tick = (m[mb + TICK] + 1) | 0;
    m[mb + TICK] = tick;
    const changed = tick % this.#clock === 0 && m[mb + WIDTH] > this.#gracePeriod && this.#detect(d);
    m[mb + DRIFT] = changed ? 1 : 0;
    if (changed) m[mb + DETECTIONS]++;
    return changed;
  }

  /** Empties detector `d` (as river does on the update after a drift). */
  reset(d: number): void {
    const rowStride = this.#entries * 2;
    const base = d * this.#rowsCap;
    this.#cells.fill(0, base * rowStride, (base + this.#rowsCap) * rowStride);
    this.#counts.fill(0, base, base + this.#rowsCap);
    // Detections survive a reset: river's own counter restarts, ours counts for the detector's life.
    const mb = d * M;
    const detections = this.#m[mb + DETECTIONS];
    this.#m.fill(0, mb, mb + M);
    this.#m[mb + N_ROWS] = 1;
    this.#m[mb + DETECTIONS] = detections;
  }

  #growRows(): void {
    const oldCap = this.#rowsCap;
    const newCap = oldCap + 1;
    const rowStride = this.#entries * 2;
    const cells = new Float64Array(this.size * newCap * rowStride);
    const counts = new Uint8Array(this.size * newCap);
    for (let d = 0; d < this.size; d++) {
      cells.set(this.#cells.subarray(d * oldCap * rowStride, (d + 1) * oldCap * rowStride), d * newCap * rowStride);
      counts.set(this.#counts.subarray(d * oldCap, (d + 1) * oldCap), d * newCap);
    }
    this.#cells = cells;
    this.#counts = counts;
    this.#rowsCap = newCap;
  }

  #insert(d: number, value: number): void {
    // A row full at maxBuckets makes room before the value comes (river appends, then merges: same merges).
    if (this.#counts[d * this.#rowsCap] === this.#maxBuckets) this.#compress(d);
    const f = this.#m;
    const fb = d * M;
    const rowBase = d * this.#rowsCap;
    const c0 = this.#counts[rowBase];
    const cell = (rowBase * this.#entries + c0) * 2;
    this.#cells[cell] = value;
    this.#cells[cell + 1] = 0;
    this.#counts[rowBase] = c0 + 1;
    f[fb + N_BUCKETS]++;

    const width = f[fb + WIDTH] + 1;
    f[fb + WIDTH] = width;
    let incremental = 0;
    if (width > 1) {
      const dv = value - f[fb + TOTAL] / (width - 1);
      incremental = ((width - 1) * dv * dv) / width;
    }
    f[fb + VARIANCE] += incremental;
    f[fb + TOTAL] += value;
  }

  /**
   * Row 0 holds maxBuckets entries and a value is coming: its two oldest buckets merge into one bucket of
   * row 1, and so on up while the next row is full too. river appends first and merges the row once it
   * holds maxBuckets + 1; the merge reads only the two oldest entries, so merging first, then appending,
   * computes the same buckets in the same order, and rows need maxBuckets entries instead of one more
   * (measured: the store 15 % smaller, bench:pipeline).
   */
  #compress(d: number): void {
    const maxBuckets = this.#maxBuckets;
    const ints = this.#m;
    const ib = d * M;
    const stride = this.#entries * 2;
    let pendingTotal = 0;
    let pendingVariance = 0;
    for (let idx = 0; ; idx++) {
      if (idx + 1 >= ints[ib + N_ROWS]) {
        if (idx + 1 >= this.#rowsCap) this.#growRows();
        ints[ib + N_ROWS] = idx + 2;
      }
      const base = d * this.#rowsCap;
      const cells = this.#cells;
      const counts = this.#counts;
      const row = (base + idx) * stride;
      const n1 = POW2[idx];
      const t0 = cells[row];
      const t1 = cells[row + 2];
      const inv = INV_POW2[idx];
      const mu1 = t0 * inv;
      const mu2 = t1 * inv;
      const total12 = t0 + t1;
      const temp = n1 * 0.5 * (mu1 - mu2) * (mu1 - mu2);
      const v12 = cells[row + 1] + cells[row + 3] + temp;
      // river counts a merge as a new bucket and never subtracts the two it consumed (rust_src/adwin.rs).
      ints[ib + N_BUCKETS]++;
      // Shift the row left by two entries; a hand loop beats copyWithin's call overhead on a few doubles.
      for (let k = row, end = row + (maxBuckets - 2) * 2; k < end; k++) cells[k] = cells[k + 4];
      let count = maxBuckets - 2;
      if (idx > 0) {
        // The bucket the row below merged, appended now that the row has room.
        cells[row + count * 2] = pendingTotal;
        cells[row + count * 2 + 1] = pendingVariance;
        count++;
      }
      counts[base + idx] = count;
      const next = base + idx + 1;
      const nc = counts[next];
      if (nc < maxBuckets) {
        const cell = row + stride + nc * 2;
        cells[cell] = total12;
        cells[cell + 1] = v12;
        counts[next] = nc + 1;
        return;
      }
      pendingTotal = total12;
      pendingVariance = v12;
    }
  }

  #deleteElement(d: number): void {
    const f = this.#m;
    const fb = d * M;
    const ib = fb;
    const last = f[ib + N_ROWS] - 1;
    const rowIndex = d * this.#rowsCap + last;
    const row = rowIndex * this.#entries * 2;
    const n = POW2[last];
    const u = this.#cells[row];
    const v = this.#cells[row + 1];
    const mu = u * INV_POW2[last];
    f[fb + WIDTH] -= n;
    f[fb + TOTAL] -= u;
    const width = f[fb + WIDTH];
    const muWindow = f[fb + TOTAL] / width;
    f[fb + VARIANCE] -= v + (n * width * (mu - muWindow) * (mu - muWindow)) / (n + width);
    const count = this.#counts[rowIndex];
    this.#cells.copyWithin(row, row + 2, row + count * 2);
    this.#counts[rowIndex] = count - 1;
    f[ib + N_BUCKETS]--;
    if (count - 1 === 0) f[ib + N_ROWS] = last;
  }

  #detect(d: number): boolean {
    const minWindowLength = this.#minWindowLength;
    const delta = this.#delta;
    const f = this.#m;
    const fb = d * M;
    const ib = fb;
    let changed = false;
    const entries2 = this.#entries * 2;
    let reduce = true;
    while (reduce) {
      reduce = false;
      let n0 = 0;
      let n1 = f[fb + WIDTH];
      let u0 = 0;
      let u1 = f[fb + TOTAL];
      const width = f[fb + WIDTH];
      const variance = f[fb + VARIANCE];
      const deltaPrime = Math.log((2 * Math.log(width)) / delta);
      const varianceInWindow = variance / width;
      const base = d * this.#rowsCap;
      const cells = this.#cells;
      outer: for (let idx = f[ib + N_ROWS] - 1; idx >= 0; idx--) {
        const size = POW2[idx];
        const count = this.#counts[base + idx];
        const row = (base + idx) * entries2;
        for (let k = 0; k < count; k++) {
          n0 += size;
          n1 -= size;
          const t = cells[row + k * 2];
          u0 += t;
          u1 -= t;
          if (idx === 0 && k === count - 1) break outer;
          if (n1 >= minWindowLength && n0 >= minWindowLength) {
            const deltaMean = u0 / n0 - u1 / n1;
            const mRecip = 1 / (n0 - minWindowLength + 1) + 1 / (n1 - minWindowLength + 1);
            const epsilon = Math.sqrt(2 * mRecip * varianceInWindow * deltaPrime) + (2 / 3) * deltaPrime * mRecip;
            if (Math.abs(deltaMean) > epsilon) {
              reduce = true;
              changed = true;
              if (width > 0) {
                this.#deleteElement(d);
                break outer;
              }
            }
          }
        }
      }
    }
    return changed;
  }

  /** Bytes of detector `d`'s record in a snapshot (src/drift/snapshot.ts). */
  stateBytes(d: number): number {
    let size = 3 * 8 + 3 * 4 + 1 + 8;
    const nRows = this.#m[d * M + N_ROWS];
    for (let r = 0; r < nRows; r++) size += 1 + this.#counts[d * this.#rowsCap + r] * 16;
    return size;
  }

  /**
   * Writes detector `d`'s record of a snapshot (src/drift/snapshot.ts: what `exportState` gives, in that
   * order) at `o`, straight from the store: the copies `exportState` makes were a third of a detector
   * checkpoint's time (bench/checkpoint.ts). Returns the offset after it.
   */
  writeState(d: number, view: DataView, o: number): number {
    const m = this.#m;
    const mb = d * M;
    for (let k = TOTAL; k <= WIDTH; k++, o += 8) view.setFloat64(o, m[mb + k], true);
    const nRows = m[mb + N_ROWS];
    view.setInt32(o, nRows, true);
    view.setInt32(o + 4, m[mb + TICK], true);
    view.setInt32(o + 8, m[mb + N_BUCKETS], true);
    o += 12;
    view.setUint8(o++, m[mb + DRIFT]);
    view.setFloat64(o, m[mb + DETECTIONS], true);
    o += 8;
    const cells = this.#cells;
    for (let r = 0; r < nRows; r++) {
      const rowIndex = d * this.#rowsCap + r;
      const count = this.#counts[rowIndex];
      view.setUint8(o++, count);
      const row = rowIndex * this.#entries * 2;
      for (let k = 0; k < count * 2; k++, o += 8) view.setFloat64(o, cells[row + k], true);
    }
    return o;
  }

  /** Internal state for snapshots: everything needed to continue bit-identically. */
  exportState(d: number): {
    f: Float64Array;
    i: Int32Array;
    drift: number;
    detections: number;
    rows: Float64Array[];
    counts: number[];
  } {
    const mb = d * M;
    const nRows = this.#m[mb + N_ROWS];
    const rows: Float64Array[] = [];
    const counts: number[] = [];
    for (let r = 0; r < nRows; r++) {
      const rowIndex = d * this.#rowsCap + r;
      const count = this.#counts[rowIndex];
      counts.push(count);
      const row = rowIndex * this.#entries * 2;
      rows.push(this.#cells.slice(row, row + count * 2));
    }
    return {
      f: this.#m.slice(mb + TOTAL, mb + WIDTH + 1),
      i: Int32Array.of(nRows, this.#m[mb + TICK], this.#m[mb + N_BUCKETS]),
      drift: this.#m[mb + DRIFT],
      detections: this.#m[mb + DETECTIONS],
      rows,
      counts,
    };
  }

  importState(d: number, state: ReturnType<AdwinStore['exportState']>): void {
    this.reset(d);
    while (this.#rowsCap < state.counts.length) this.#growRows();
    const mb = d * M;
    this.#m.set(state.f, mb + TOTAL);
    this.#m[mb + N_ROWS] = state.i[0];
    this.#m[mb + TICK] = state.i[1];
    this.#m[mb + N_BUCKETS] = state.i[2];
    this.#m[mb + DRIFT] = state.drift;
    this.#m[mb + DETECTIONS] = state.detections;
    for (let r = 0; r < state.counts.length; r++) {
      const rowIndex = d * this.#rowsCap + r;
      this.#counts[rowIndex] = state.counts[r];
      this.#cells.set(state.rows[r], rowIndex * this.#entries * 2);
    }
  }
}
