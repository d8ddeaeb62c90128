import { ArtifactInvalidError, InvalidOptionError } from '../errors.ts';
import { decodeFloats, encodeFloats } from './encoding.ts';
import { KnnIndex } from './knn-index.ts';
import { Standardizer } from './standardize.ts';
import type { Classifier, Dataset } from './types.ts';

export interface KnnOptions {
  /** Neighbours that vote. @defaultValue 5 */
  k?: number;
}

/**
 * k-nearest neighbours on standardized features, found by a flat scan of the
 * training rows. Probabilities are the neighbours' vote shares.
 *
 * Why not ml-knn's KD-tree (the k-NN package of record, kept as the reference
 * in test/model/knn.test.ts and bench/knn.ts): in 218 dimensions a KD-tree
 * cannot prune (it needs far more rows than 2^d), and ml-knn 3's tree never
 * tries: it measures the distance to the splitting plane by handing a plain
 * object to the metric, whose loop reads `.length` (undefined) and returns 0,
 * so every node is visited through recursion, closures and a binary heap.
 * The scan finds the same neighbours (up to exact distance ties) 12x to 51x
 * faster on HAR (docs/models.md, `npm run bench:knn`).
 *
 * The artifact keeps its format: the standardized rows (one base64 float64
 * block, row-major) and the labels as class indices.
 */
export class KnnClassifier implements Classifier {
  readonly kind = 'knn';
  readonly params: Readonly<Record<string, number>>;
  readonly #k: number;
  readonly #dims: number;
  /** n standardized training rows, row-major. */
  readonly #rows: Float64Array;
  readonly #labels: number[];
  /** Built on the first prediction (loading stays as fast as before); null when a plain scan is as good. */
  #index: KnnIndex | null | undefined;

  private constructor(
    readonly featureSet: string,
    readonly classes: readonly string[],
    readonly standardizer: Standardizer,
    rows: Float64Array,
    labels: number[],
    k: number,
  ) {
    this.params = { k };
    this.#k = k;
    this.#dims = standardizer.dimensions;
    this.#rows = rows;
    this.#labels = labels;
  }

  static train(data: Dataset, options: KnnOptions = {}): KnnClassifier {
    const k = options.k ?? 5;
    if (!Number.isInteger(k) || k < 1) throw new InvalidOptionError(`k must be a positive integer, got ${k}`);
    if (data.rows.length < k) throw new InvalidOptionError(`k = ${k} needs at least ${k} training rows`);
    const classes = [...new Set(data.labels)].sort();
    const index = new Map(classes.map((c, i) => [c, i]));
    const standardizer = Standardizer.fit(data.rows);
    const d = standardizer.dimensions;
    const flat = new Float64Array(data.rows.length * d);
    for (let i = 0; i < data.rows.length; i++) standardizer.applyInto(data.rows[i], flat.subarray(i * d, (i + 1) * d));
    return new KnnClassifier(
      data.featureSet,
      classes,
      standardizer,
      flat,
      data.labels.map((l) => index.get(l)!),
      k,
    );
  }

  /**
   * The vote shares of each row's k nearest training rows, found through the
   * rotated-space bounds of knn-index.ts: the same neighbours as the plain
   * scan (`predictProbaScan`), 4.6x to 10x faster in-process on HAR
   * (docs/performance.md).
   */
  predictProba(rows: readonly (readonly number[] | Float64Array)[]): number[][] {
    if (this.#index === undefined) this.#index = KnnIndex.build(this.#rows, this.#dims);
    return this.#predict(rows, this.#index);
  }

  /** The plain flat scan (`nearestRows`): the reference `predictProba` agrees with. */
  predictProbaScan(rows: readonly (readonly number[] | Float64Array)[]): number[][] {
    return this.#predict(rows, null);
  }

  #predict(rows: readonly (readonly number[] | Float64Array)[], search: KnnIndex | null): number[][] {
    const k = this.#k;
    const n = this.classes.length;
    const d = this.#dims;
    const train = this.#rows;
    const labels = this.#labels;
    // One set of buffers per call, reused for every query.
    const query = new Float64Array(d);
    const index = new Int32Array(k);
    const distance = new Float64Array(k);
    const out = new Array<number[]>(rows.length);
    for (let r = 0; r < rows.length; r++) {
      this.standardizer.applyInto(rows[r], query);
      const found = search
        ? search.search(query, k, index, distance)
        : nearestRows(train, d, query, k, index, distance);
      const votes = new Array<number>(n).fill(0);
      for (let i = 0; i < found; i++) votes[labels[index[i]]]++;
      for (let c = 0; c < n; c++) votes[c] /= found;
      out[r] = votes;
    }
    return out;
  }

  toState(): unknown {
    return {
      mean: encodeFloats(this.standardizer.mean),
      scale: encodeFloats(this.standardizer.scale),
      rows: encodeFloats(this.#rows),
      labels: this.#labels,
    };
  }

  static fromState(doc: { featureSet: string; classes: string[]; params: Record<string, unknown>; state: unknown }) {
    const s = doc.state as Record<string, unknown>;
    const k = doc.params.k;
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) throw new ArtifactInvalidError('knn: bad k');
    const mean = decodeFloats(s.mean);
    const d = mean.length;
    if (d === 0) throw new ArtifactInvalidError('knn: no features');
    const scale = decodeFloats(s.scale, d);
    const labels = s.labels;
    if (!Array.isArray(labels) || !labels.every((l) => Number.isInteger(l) && l >= 0 && l < doc.classes.length))
      throw new ArtifactInvalidError('knn: labels must be class indices');
    // Training refuses such a k; an artifact that holds one was not written by this code.
    if (k > labels.length)
      throw new ArtifactInvalidError(`knn: k = ${k} exceeds the ${labels.length} training rows`, {
        context: { k, rows: labels.length },
      });
    const rows = decodeFloats(s.rows, labels.length * d);
    return new KnnClassifier(doc.featureSet, doc.classes, new Standardizer(mean, scale), rows, labels as number[], k);
  }
}

/** Dimensions summed between two checks against the k-th best distance. */
const BLOCK = 16;

/**
 * The `k` rows of `rows` (row-major, `d` values each) nearest to `query` by
 * squared Euclidean distance, written to `index` and `distance` in ascending
 * distance; on an exact tie the lower row index comes first. Returns how many
 * were found (min(k, row count)). `index` and `distance` need room for k.
 *
 * A sorted insertion buffer of size k: k is small (5 to 15), so shifting a few
 * slots beats a heap, and nothing is allocated per row. The sum runs in the
 * same order as ml-distance-euclidean's, so the distances match ml-knn's
 * squared, bit for bit.
 */
export function nearestRows(
  rows: Float64Array,
  d: number,
  query: Float64Array,
  k: number,
  index: Int32Array,
  distance: Float64Array,
): number {
  const n = (rows.length / d) | 0;
  let count = 0;
  let worst = Number.POSITIVE_INFINITY;
  for (let i = 0, base = 0; i < n; i++, base += d) {
    // Summed in blocks, leaving a row as soon as its partial sum reaches the
    // k-th best: adding squares never lowers a float sum, so such a row cannot
    // get in, and the sums of the rows that finish are unchanged.
    let s = 0;
    let j = 0;
    while (j < d && s < worst) {
      const end = j + BLOCK < d ? j + BLOCK : d;
      for (; j < end; j++) {
        const t = query[j] - rows[base + j];
        s += t * t;
      }
    }
    if (count === k && !(s < worst)) continue;
    let p = count < k ? count++ : k - 1;
    while (p > 0 && distance[p - 1] > s) {
      distance[p] = distance[p - 1];
      index[p] = index[p - 1];
      p--;
    }
    distance[p] = s;
    index[p] = i;
    if (count === k) worst = distance[k - 1];
  }
  return count;
}
