import { KnnClassifier, serializeModel } from '../../src/model/index.ts';
import type { Dataset } from '../../src/model/types.ts';
import { type ModelRef, writeModelDirectory } from '../../src/serving/model-source.ts';

/** Synthetic, well-separated rows of `d` features: class i centred at i*5 on every axis. */
export function synthetic(n: number, d = 8, seed = 1, classes = ['SITTING', 'WALKING']): Dataset {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
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
