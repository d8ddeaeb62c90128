import KNN from 'ml-knn';
import { ArtifactInvalidError, InvalidOptionError } from '../errors.ts';
import { decodeFloats, encodeFloats } from './encoding.ts';
import { Standardizer } from './standardize.ts';
import type { Classifier, Dataset } from './types.ts';

export interface KnnOptions {
  /** Neighbours that vote. @defaultValue 5 */
  k?: number;
}

/**
 * k-nearest neighbours through ml-knn on standardized features. Probabilities
 * are the neighbours' vote shares. The artifact stores the standardized
 * training rows and labels; loading rebuilds ml-knn's KD-tree from them.
 */
export class KnnClassifier implements Classifier {
  readonly kind = 'knn';
  readonly params: Readonly<Record<string, number>>;
  readonly #knn: KNN;
  readonly #rows: number[][];
  readonly #labels: number[];

  private constructor(
    readonly featureSet: string,
    readonly classes: readonly string[],
    readonly standardizer: Standardizer,
    rows: number[][],
    labels: number[],
    k: number,
  ) {
    this.params = { k };
    this.#rows = rows;
    this.#labels = labels;
    this.#knn = new KNN(rows, labels, { k });
  }

  static train(data: Dataset, options: KnnOptions = {}): KnnClassifier {
    const k = options.k ?? 5;
    if (!Number.isInteger(k) || k < 1) throw new InvalidOptionError(`k must be a positive integer, got ${k}`);
    if (data.rows.length < k) throw new InvalidOptionError(`k = ${k} needs at least ${k} training rows`);
    const classes = [...new Set(data.labels)].sort();
    const index = new Map(classes.map((c, i) => [c, i]));
    const standardizer = Standardizer.fit(data.rows);
    return new KnnClassifier(
      data.featureSet,
      classes,
      standardizer,
      standardizer.applyAll(data.rows),
      data.labels.map((l) => index.get(l)!),
      k,
    );
  }

  predictProba(rows: readonly (readonly number[] | Float64Array)[]): number[][] {
    const k = this.params.k;
    const n = this.classes.length;
    return rows.map((row) => {
      const votes = new Array<number>(n).fill(0);
      const nearest = this.#knn.kdTree.nearest(this.standardizer.apply(row), k);
      for (const [point] of nearest) votes[point[point.length - 1]]++;
      return votes.map((v) => v / nearest.length);
    });
  }

  toState(): unknown {
    const d = this.standardizer.dimensions;
    const flat = new Float64Array(this.#rows.length * d);
    for (let i = 0; i < this.#rows.length; i++) flat.set(this.#rows[i], i * d);
    return {
      mean: encodeFloats(this.standardizer.mean),
      scale: encodeFloats(this.standardizer.scale),
      rows: encodeFloats(flat),
      labels: this.#labels,
    };
  }

  static fromState(doc: { featureSet: string; classes: string[]; params: Record<string, unknown>; state: unknown }) {
    const s = doc.state as Record<string, unknown>;
    const k = doc.params.k;
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) throw new ArtifactInvalidError('knn: bad k');
    const mean = decodeFloats(s.mean);
    const d = mean.length;
    const scale = decodeFloats(s.scale, d);
    const labels = s.labels;
    if (!Array.isArray(labels) || !labels.every((l) => Number.isInteger(l) && l >= 0 && l < doc.classes.length))
      throw new ArtifactInvalidError('knn: labels must be class indices');
    // More neighbours than rows cannot vote as trained (and k = 1e9 would size buffers by it).
    if (k > labels.length) throw new ArtifactInvalidError(`knn: k = ${k} exceeds the ${labels.length} training rows`);
    const flat = decodeFloats(s.rows, labels.length * d);
    const rows = labels.map((_, i) => Array.from(flat.subarray(i * d, (i + 1) * d)));
    return new KnnClassifier(doc.featureSet, doc.classes, new Standardizer(mean, scale), rows, labels as number[], k);
  }
}
