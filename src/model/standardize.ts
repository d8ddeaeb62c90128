import { InvalidValueError } from '../errors.ts';

/**
 * Per-feature standardization (z-scores) fitted on the training rows. k-NN and
 * linear models need it: the features span orders of magnitude. A feature
 * constant in training gets scale 1 (it then only shifts, never divides by 0).
 */
export class Standardizer {
  constructor(
    readonly mean: Float64Array,
    readonly scale: Float64Array,
  ) {}

  static fit(rows: readonly (readonly number[] | Float64Array)[]): Standardizer {
    if (rows.length === 0) throw new InvalidValueError('cannot fit a standardizer on no rows');
    const d = rows[0].length;
    const mean = new Float64Array(d);
    const sq = new Float64Array(d);
    for (const r of rows) {
      if (r.length !== d) throw new InvalidValueError(`row has ${r.length} features, expected ${d}`);
      for (let j = 0; j < d; j++) mean[j] += r[j];
    }
    for (let j = 0; j < d; j++) mean[j] /= rows.length;
    for (const r of rows) for (let j = 0; j < d; j++) sq[j] += (r[j] - mean[j]) ** 2;
    const scale = new Float64Array(d);
    for (let j = 0; j < d; j++) {
      const s = Math.sqrt(sq[j] / rows.length);
      scale[j] = s > 1e-12 ? s : 1;
    }
    return new Standardizer(mean, scale);
  }

  get dimensions(): number {
    return this.mean.length;
  }

  apply(row: readonly number[] | Float64Array): number[] {
    const d = this.mean.length;
    if (row.length !== d) throw new InvalidValueError(`row has ${row.length} features, expected ${d}`);
    const out = new Array<number>(d);
    for (let j = 0; j < d; j++) {
      const v = row[j];
      if (!Number.isFinite(v)) throw new InvalidValueError(`feature ${j} is ${v}`);
      out[j] = (v - this.mean[j]) / this.scale[j];
    }
    return out;
  }

  /** `apply` into a caller's buffer: the k-NN scan standardizes every query without allocating. */
  applyInto(row: readonly number[] | Float64Array, out: Float64Array): Float64Array {
    const d = this.mean.length;
    if (row.length !== d) throw new InvalidValueError(`row has ${row.length} features, expected ${d}`);
    const mean = this.mean;
    const scale = this.scale;
    for (let j = 0; j < d; j++) {
      const v = row[j];
      if (!Number.isFinite(v)) throw new InvalidValueError(`feature ${j} is ${v}`);
      out[j] = (v - mean[j]) / scale[j];
    }
    return out;
  }

  applyAll(rows: readonly (readonly number[] | Float64Array)[]): number[][] {
    return rows.map((r) => this.apply(r));
  }
}
