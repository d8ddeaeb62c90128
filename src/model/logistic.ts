import LogisticRegression from 'ml-logistic-regression';
import { Matrix } from 'ml-matrix';
import { ArtifactInvalidError, InvalidOptionError } from '../errors.ts';
import { decodeFloats, encodeFloats } from './encoding.ts';
import { Standardizer } from './standardize.ts';
import type { Classifier, Dataset, ModelDocument } from './types.ts';

export interface LogisticOptions {
  /** Batch gradient-descent steps per class. @defaultValue 400 */
  steps?: number;
  /**
   * Step size. ml-logistic-regression sums (does not average) the gradient over
   * the rows, so the useful rate shrinks with the training-set size; the rate
   * given here is per row and divided by the row count at training time.
   * @defaultValue 1.5
   */
  rate?: number;
}

type LibraryModel = InstanceType<typeof LogisticRegression>;

/**
 * One-vs-rest logistic regression through ml-logistic-regression on
 * standardized features plus a constant column (the library fits no
 * intercept). The library's binary models score "not this class", so the
 * probability of class c is 1 − score_c, normalised over the classes.
 */
export class LogisticClassifier implements Classifier {
  readonly kind = 'logistic-regression';
  readonly params: Readonly<Record<string, number>>;
  readonly #lr: LibraryModel;
  readonly #weights: Float64Array;

  private constructor(
    readonly featureSet: string,
    readonly classes: readonly string[],
    readonly standardizer: Standardizer,
    weights: Float64Array,
    params: { steps: number; rate: number },
  ) {
    this.params = params;
    this.#weights = weights;
    const w = standardizer.dimensions + 1;
    this.#lr = LogisticRegression.load({
      name: 'LogisticRegression',
      numSteps: params.steps,
      learningRate: params.rate,
      numberClasses: classes.length,
      classifiers: classes.map((_, c) => ({ weights: [Array.from(weights.subarray(c * w, (c + 1) * w))] })),
    });
  }

  static train(data: Dataset, options: LogisticOptions = {}): LogisticClassifier {
    const steps = options.steps ?? 400;
    const rate = options.rate ?? 1.5;
    if (!Number.isInteger(steps) || steps < 1)
      throw new InvalidOptionError(`steps must be a positive integer, got ${steps}`);
    if (!(rate > 0 && Number.isFinite(rate)))
      throw new InvalidOptionError(`rate must be a positive number, got ${rate}`);
    const classes = [...new Set(data.labels)].sort();
    if (classes.length < 2) throw new InvalidOptionError('logistic regression needs at least two classes');
    const index = new Map(classes.map((c, i) => [c, i]));
    const standardizer = Standardizer.fit(data.rows);
    const lr = new LogisticRegression({ numSteps: steps, learningRate: rate / data.rows.length });
    lr.train(withBias(standardizer, data.rows), Matrix.columnVector(data.labels.map((l) => index.get(l)!)));
    const w = standardizer.dimensions + 1;
    const weights = new Float64Array(classes.length * w);
    for (let c = 0; c < classes.length; c++) weights.set(lr.classifiers[c].weights.to1DArray(), c * w);
    return new LogisticClassifier(data.featureSet, classes, standardizer, weights, { steps, rate });
  }

  predictProba(rows: readonly (readonly number[] | Float64Array)[]): number[][] {
    if (rows.length === 0) return [];
    const x = withBias(this.standardizer, rows);
    const notClass = this.#lr.classifiers.map((m) => m.testScores(x));
    return rows.map((_, i) => {
      const p = notClass.map((s) => 1 - s[i]);
      const sum = p.reduce((a, b) => a + b, 0);
      return sum > 0 ? p.map((v) => v / sum) : p.map(() => 1 / p.length);
    });
  }

  toState(): unknown {
    return {
      mean: encodeFloats(this.standardizer.mean),
      scale: encodeFloats(this.standardizer.scale),
      weights: encodeFloats(this.#weights),
    };
  }

  static fromState(doc: ModelDocument): LogisticClassifier {
    const s = (doc.state ?? {}) as Record<string, unknown>;
    const { steps, rate } = doc.params;
    if (typeof steps !== 'number' || !Number.isInteger(steps) || steps < 1)
      throw new ArtifactInvalidError('logistic-regression: bad steps');
    if (typeof rate !== 'number' || !(rate > 0)) throw new ArtifactInvalidError('logistic-regression: bad rate');
    const mean = decodeFloats(s.mean);
    const scale = decodeFloats(s.scale, mean.length);
    const weights = decodeFloats(s.weights, doc.classes.length * (mean.length + 1));
    return new LogisticClassifier(doc.featureSet, doc.classes, new Standardizer(mean, scale), weights, { steps, rate });
  }
}

function withBias(standardizer: Standardizer, rows: readonly (readonly number[] | Float64Array)[]): Matrix {
  return new Matrix(rows.map((r) => [...standardizer.apply(r), 1]));
}
