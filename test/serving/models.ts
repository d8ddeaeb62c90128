import { KnnClassifier, serializeModel } from '../../src/model/index.ts';
import type { Classifier, Dataset } from '../../src/model/types.ts';
import { type ModelRef, writeModelDirectory } from '../../src/serving/model-source.ts';
import { lcg } from '../support/datasets.ts';

/** Synthetic, well-separated rows of `d` features: class i centred at i*5 on every axis. */
export function synthetic(n: number, d = 8, seed = 1, classes = ['SITTING', 'WALKING']): Dataset {
  const rand = lcg(seed);
  const rows: Float64Array[] = [];
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % classes.length;
    rows.push(Float64Array.from({ length: d }, () => c * 5 + (rand() - 0.5) * 2));
    labels.push(classes[c]);
  }
  return { featureSet: `test-${d}`, featureNames: Array.from({ length: d }, (_, j) => `f${j}`), rows, labels };
}

/** Trains a real k-NN on synthetic rows and writes it where directoryModelSource reads it. */
export async function writeTestModel(dir: string, ref: ModelRef, options: { d?: number; flip?: boolean } = {}) {
  const classes = options.flip ? ['WALKING', 'SITTING'] : ['SITTING', 'WALKING'];
  const data = synthetic(60, options.d ?? 8, ref.version, classes);
  const model = KnnClassifier.train(data, { k: 3 });
  const { bytes, digest } = serializeModel(model, data.featureNames);
  await writeModelDirectory(dir, ref, bytes, digest);
  return { digest, bytes };
}

/** 128 readings (acc g, gyro rad/s): still, or a 2 Hz walking-like swing. */
export function readingsWindow(walking: boolean, seed = 1): number[][] {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  };
  return Array.from({ length: 128 }, (_, i) => {
    const a = walking ? 0.4 * Math.sin((2 * Math.PI * 2 * i) / 50) : 0;
    return [a + rand() * 0.02, 0.1 + rand() * 0.02, 1 + a / 2 + rand() * 0.02, a * 2, rand() * 0.01, a];
  });
}

/** A real k-NN over the featurizer's feature set, trained on featurized synthetic windows. */
export async function writeFeatureSetModel(dir: string, ref: ModelRef) {
  const { FEATURE_NAMES, FEATURE_SET, Featurizer } = await import('../../src/features/index.ts');
  const rows: Float64Array[] = [];
  const labels: string[] = [];
  for (let i = 0; i < 30; i++) {
    const walking = i % 2 === 1;
    rows.push(new Featurizer().push(readingsWindow(walking, i + 1).flat())[0].features);
    labels.push(walking ? 'WALKING' : 'SITTING');
  }
  const model = KnnClassifier.train({ featureSet: FEATURE_SET, featureNames: FEATURE_NAMES, rows, labels }, { k: 3 });
  const { bytes, digest } = serializeModel(model, FEATURE_NAMES);
  await writeModelDirectory(dir, ref, bytes, digest);
}

/**
 * Wraps a classifier with a fixed amount of arithmetic per row (work, not a
 * clock) and counts the rows scored, so a test can see a batch in flight.
 */
export class SlowClassifier implements Classifier {
  rowsScored = 0;
  #sink = 0;

  constructor(
    readonly inner: Classifier,
    readonly workPerRow = 50_000,
  ) {}

  get kind() {
    return this.inner.kind;
  }
  get classes() {
    return this.inner.classes;
  }
  get featureSet() {
    return this.inner.featureSet;
  }
  get params() {
    return this.inner.params;
  }
  toState() {
    return this.inner.toState();
  }

  predictProba(rows: readonly (readonly number[] | Float64Array)[]): number[][] {
    for (let r = 0; r < rows.length; r++) for (let i = 0; i < this.workPerRow; i++) this.#sink += Math.sqrt(i + r);
    this.rowsScored += rows.length;
    return this.inner.predictProba(rows);
  }
}
