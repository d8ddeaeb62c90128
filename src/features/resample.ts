import { InvalidOptionError, InvalidValueError, SnapshotInvalidError } from '../errors.ts';
import { F64Reader, F64Writer } from './resample-codec.ts';
import {
  ACCEPTED,
  DUPLICATE,
  GRID_MS,
  GRID_RATE_HZ,
  HOLE,
  LATE,
  type SensorConfig,
  SensorStream,
  WAIT,
} from './resample-sensor.ts';

export { GRID_MS, RATE_INTERVALS, SNAP_MS } from './resample-sensor.ts';

/** Values per output row: acc x, y, z, gyro x, y, z (the featurizer's input). */
export const ROW = 6;

export interface ResamplerOptions {
  /**
   * A silence longer than this (ms) in either sensor is not interpolated across: the grid ends
   * with a segment break and restarts after it. At least 40 (two grid periods: a 40 Hz stream's
   * own spacing plus jitter must not read as a gap).
   * @defaultValue 100
   */
  maxGapMs?: number;
  /**
   * How far (ms) a reading may arrive behind the newest one of its sensor and still be put in
   * order. Output waits this long for stragglers; a reading behind what was already released is
   * dropped (`late`).
   * @defaultValue 100
   */
  reorderToleranceMs?: number;
  /**
   * Cut-off (Hz) of the 3rd-order Butterworth anti-aliasing low-pass run on a sensor above 50 Hz;
   * below the grid's 25 Hz Nyquist frequency.
   * @defaultValue 20
   */
  antiAliasCutoffHz?: number;
  /**
   * Accelerometer input rate (Hz), when known; otherwise it is estimated from the first
   * `RATE_INTERVALS` intervals (see `estimateRate`).
   * @defaultValue undefined (estimated)
   */
  accRateHz?: number;
  /** Gyroscope input rate (Hz), as `accRateHz`. @defaultValue undefined (estimated) */
  gyroRateHz?: number;
}

/**
 * What one call emitted; the same object is refilled by every call, so read it before the next.
 * Rows `[0, count)` are `rows[6 i .. 6 i + 6)` at grid time `times[i]`. `breaks[0 .. breakCount)`
 * are row indices, ascending, in `[0, count]`: a break at `j` means a gap lies between row `j − 1`
 * (or the rows of earlier calls) and row `j` (or the rows of later calls), so the caller ends the
 * window in progress there.
 */
export class ResampledRows {
  count = 0;
  times = new Float64Array(64);
  rows = new Float64Array(64 * ROW);
  breakCount = 0;
  breaks = new Uint32Array(4);

  /** Rows `[0, count)` as the flat array `Featurizer.push` takes (a view, no copy). */
  get samples(): Float64Array {
    return this.rows.subarray(0, this.count * ROW);
  }

  /** Grid times of rows `[0, count)` (a view). */
  get timestamps(): Float64Array {
    return this.times.subarray(0, this.count);
  }

  clear(): void {
    this.count = 0;
    this.breakCount = 0;
  }

  addBreak(): void {
    if (this.breakCount === this.breaks.length) {
      const b = new Uint32Array(this.breaks.length * 2);
      b.set(this.breaks);
      this.breaks = b;
    }
    this.breaks[this.breakCount++] = this.count;
  }

  /** Room for one more row; returns its offset in `rows`. */
  nextRow(time: number): number {
    if (this.count === this.times.length) {
      const t = new Float64Array(this.times.length * 2);
      t.set(this.times);
      this.times = t;
      const r = new Float64Array(this.rows.length * 2);
      r.set(this.rows);
      this.rows = r;
    }
    this.times[this.count] = time;
    return this.count++ * ROW;
  }
}

const SNAPSHOT_MAGIC = 0x4c505352; // "RSPL"
const SNAPSHOT_VERSION = 1;
const MIN_GAP_MS = 2 * GRID_MS;
const MAX_TOLERANCE_MS = 60_000;

function checkRate(name: string, v: number | undefined): number {
  if (v === undefined) return 0;
  if (!(Number.isFinite(v) && v >= 1 && v <= 10_000)) {
    throw new InvalidOptionError(`${name} must be a rate in [1, 10000] Hz, or left out to estimate it; got ${v}`);
  }
  return v;
}

/**
 * Puts one device's accelerometer and gyroscope readings, each on its own clock and rate
 * (40–400 Hz, jittered, with gaps and small reorderings), onto the featurizer's 50 Hz grid
 * `t_k = t0 + 20 k` ms as aligned 6-value rows, `t0` the first instant both sensors cover.
 *
 * Pure and incremental: each reading passes each stage once, in its sensor's time order; a row is
 * emitted only when the readings that decide it are final (past the reorder tolerance and the
 * interpolation's look-ahead, in both sensors), so output is never revised and is bit-identical
 * under any batching of the same readings, and across `snapshot` / `restore`.
 */
export class Resampler {
  readonly #options: Required<Omit<ResamplerOptions, 'accRateHz' | 'gyroRateHz'>> & {
    accRateHz: number;
    gyroRateHz: number;
  };
  readonly #acc: SensorStream;
  readonly #gyro: SensorStream;
  readonly #out = new ResampledRows();
  readonly #row = new Float64Array(ROW);
  #late = 0;
  #duplicates = 0;
  #gaps = 0;
  #emitted = 0;
  /** Grid: origin and next index; `#started` false while looking for the next origin. */
  #started = false;
  #t0 = 0;
  #k = 0;
  /** Rows emitted since the grid last (re)started: a break is worth reporting only after one. */
  #rowsInSegment = 0;

  constructor(options: ResamplerOptions = {}) {
    const maxGapMs = options.maxGapMs ?? 100;
    const reorderToleranceMs = options.reorderToleranceMs ?? 100;
    const antiAliasCutoffHz = options.antiAliasCutoffHz ?? 20;
    if (!(Number.isFinite(maxGapMs) && maxGapMs >= MIN_GAP_MS)) {
      throw new InvalidOptionError(
        `maxGapMs must be a finite number ≥ ${MIN_GAP_MS} (two grid periods, so a 40 Hz stream's spacing is not a gap), got ${maxGapMs}`,
      );
    }
    if (!(reorderToleranceMs >= 0 && reorderToleranceMs <= MAX_TOLERANCE_MS)) {
      throw new InvalidOptionError(
        `reorderToleranceMs must be in [0, ${MAX_TOLERANCE_MS}] (output waits this long), got ${reorderToleranceMs}`,
      );
    }
    if (!(antiAliasCutoffHz > 0 && antiAliasCutoffHz < GRID_RATE_HZ / 2)) {
      throw new InvalidOptionError(
        `antiAliasCutoffHz must be in (0, ${GRID_RATE_HZ / 2}) (below the 50 Hz grid's Nyquist frequency), got ${antiAliasCutoffHz}`,
      );
    }
    const accRateHz = checkRate('accRateHz', options.accRateHz);
    const gyroRateHz = checkRate('gyroRateHz', options.gyroRateHz);
    this.#options = { maxGapMs, reorderToleranceMs, antiAliasCutoffHz, accRateHz, gyroRateHz };
    const base: Omit<SensorConfig, 'rateHz'> = { maxGapMs, reorderToleranceMs, cutoffHz: antiAliasCutoffHz };
    this.#acc = new SensorStream({ ...base, rateHz: accRateHz });
    this.#gyro = new SensorStream({ ...base, rateHz: gyroRateHz });
  }

  /** Readings dropped because they came after later ones had been released (beyond the reorder tolerance). */
  get late(): number {
    return this.#late;
  }

  /** Readings dropped for a timestamp already seen (or, unfiltered, within a quarter period of the previous one). */
  get duplicates(): number {
    return this.#duplicates + this.#acc.crowded + this.#gyro.crowded;
  }

  /** Segment breaks emitted for a gap longer than `maxGapMs` in either sensor (`flush` breaks too, uncounted). */
  get gaps(): number {
    return this.#gaps;
  }

  /** Rows emitted so far. */
  get rows(): number {
    return this.#emitted;
  }

  /** Input rates (Hz) in use, given or estimated; 0 while still being estimated. */
  get accRateHz(): number {
    return this.#acc.rateHz;
  }

  get gyroRateHz(): number {
    return this.#gyro.rateHz;
  }

  /** Accelerometer readings: `xyz` holds 3 values (g) per time (ms). */
  pushAcc(times: ArrayLike<number>, xyz: ArrayLike<number>): ResampledRows {
    return this.#pushSensor(this.#acc, 'acc', times, xyz);
  }

  /** Gyroscope readings: `xyz` holds 3 values (rad/s) per time (ms). */
  pushGyro(times: ArrayLike<number>, xyz: ArrayLike<number>): ResampledRows {
    return this.#pushSensor(this.#gyro, 'gyro', times, xyz);
  }

  /** Readings of both sensors taken together: `rows` holds 6 values (acc x, y, z, gyro x, y, z) per time. */
  pushAligned(times: ArrayLike<number>, rows: ArrayLike<number>): ResampledRows {
    validate('aligned', times, rows, ROW);
    const acc = this.#acc;
    const gyro = this.#gyro;
    for (let i = 0; i < times.length; i++) {
      const a = acc.offer(times[i], rows, i * ROW);
      const g = gyro.offer(times[i], rows, i * ROW + 3);
      // One reading, counted once when either sensor drops it.
      const dropped = a !== ACCEPTED ? a : g;
      if (dropped === LATE) this.#late++;
      else if (dropped === DUPLICATE) this.#duplicates++;
    }
    return this.#drain();
  }

  /**
   * End of stream: releases what waits for reordering and emits every row the readings cover.
   * Readings after it start new segments (a break, if rows came before).
   */
  flush(): ResampledRows {
    this.#acc.close();
    this.#gyro.close();
    return this.#drain();
  }

  #pushSensor(sensor: SensorStream, name: string, times: ArrayLike<number>, xyz: ArrayLike<number>): ResampledRows {
    validate(name, times, xyz, 3);
    for (let i = 0; i < times.length; i++) {
      const r = sensor.offer(times[i], xyz, i * 3);
      if (r === LATE) this.#late++;
      else if (r === DUPLICATE) this.#duplicates++;
    }
    return this.#drain();
  }

  /** Emits every grid row both sensors have final readings for. */
  #drain(): ResampledRows {
    const out = this.#out;
    out.clear();
    const acc = this.#acc;
    const gyro = this.#gyro;
    const row = this.#row;
    for (;;) {
      if (!this.#started && !this.#start()) break;
      const g = this.#t0 + GRID_MS * this.#k;
      const a = acc.at(g, row, 0);
      if (a === WAIT) break;
      const b = gyro.at(g, row, 3);
      if (b === WAIT) break;
      if (a >= HOLE || b >= HOLE) {
        if (a >= HOLE) acc.nextSegment();
        if (b >= HOLE) gyro.nextSegment();
        // The end of the stream (`flush`) breaks the rows too, but is no gap.
        if (this.#rowsInSegment > 0) {
          out.addBreak();
          if (a === HOLE || b === HOLE) this.#gaps++;
        }
        this.#started = false;
        continue;
      }
      const o = out.nextRow(g);
      const rows = out.rows;
      for (let c = 0; c < ROW; c++) rows[o + c] = row[c];
      this.#k++;
      this.#rowsInSegment++;
      this.#emitted++;
    }
    return out;
  }

  /** Finds the next grid origin: the first instant both sensors' current segments cover. */
  #start(): boolean {
    const acc = this.#acc;
    const gyro = this.#gyro;
    for (;;) {
      const a = acc.segmentStart();
      const b = gyro.segmentStart();
      if (Number.isNaN(a) || Number.isNaN(b)) return false;
      const t0 = a > b ? a : b;
      const ra = acc.reaches(t0);
      const rb = gyro.reaches(t0);
      if (ra === HOLE) acc.nextSegment();
      if (rb === HOLE) gyro.nextSegment();
      if (ra === HOLE || rb === HOLE) continue;
      if (ra === WAIT || rb === WAIT) return false;
      this.#t0 = t0;
      this.#k = 0;
      this.#rowsInSegment = 0;
      this.#started = true;
      return true;
    }
  }

  /** The whole state (options, counters, both sensors' buffers and filters, the grid) as bytes. */
  snapshot(): Uint8Array {
    const w = new F64Writer();
    const o = this.#options;
    for (const v of [o.maxGapMs, o.reorderToleranceMs, o.antiAliasCutoffHz, o.accRateHz, o.gyroRateHz]) w.put(v);
    for (const v of [this.#late, this.#duplicates, this.#gaps, this.#emitted]) w.put(v);
    w.put(this.#started ? 1 : 0);
    w.put(this.#t0);
    w.put(this.#k);
    w.put(this.#rowsInSegment);
    this.#acc.save(w);
    this.#gyro.save(w);
    return w.finish(SNAPSHOT_MAGIC, SNAPSHOT_VERSION);
  }

  /** A resampler continuing bit-identically from `snapshot()` bytes; SnapshotInvalidError when they are not. */
  static restore(bytes: Uint8Array): Resampler {
    const r = new F64Reader(bytes, SNAPSHOT_MAGIC, SNAPSHOT_VERSION, 'resampler');
    const options = {
      maxGapMs: r.get(),
      reorderToleranceMs: r.get(),
      antiAliasCutoffHz: r.get(),
      accRateHz: r.get() || undefined,
      gyroRateHz: r.get() || undefined,
    };
    let s: Resampler;
    try {
      s = new Resampler(options);
    } catch (err) {
      throw new SnapshotInvalidError('resampler snapshot holds invalid options', { cause: err });
    }
    const big = Number.MAX_SAFE_INTEGER;
    s.#late = r.count('late', big);
    s.#duplicates = r.count('duplicates', big);
    s.#gaps = r.count('gaps', big);
    s.#emitted = r.count('rows', big);
    s.#started = r.flag('started');
    s.#t0 = r.number('grid origin', -Number.MAX_VALUE, Number.MAX_VALUE);
    s.#k = r.count('grid index', big);
    s.#rowsInSegment = r.count('rows in segment', big);
    s.#acc.load(r);
    s.#gyro.load(r);
    r.done();
    return s;
  }
}

/** Refuses a batch whole, before any state changes, for a wrong shape or a non-finite value. */
function validate(name: string, times: ArrayLike<number>, values: ArrayLike<number>, width: number): void {
  if (values.length !== times.length * width) {
    throw new InvalidValueError(
      `${name}: ${times.length} times need ${times.length * width} values (${width} each), got ${values.length}`,
    );
  }
  for (let i = 0; i < times.length; i++) {
    if (!Number.isFinite(times[i]))
      throw new InvalidValueError(`${name}: time ${i} is ${times[i]}; times must be finite`);
  }
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new InvalidValueError(`${name}: reading ${Math.floor(i / width)} value ${i % width} is ${values[i]}`, {
        context: { reading: Math.floor(i / width), channel: i % width },
      });
    }
  }
}
