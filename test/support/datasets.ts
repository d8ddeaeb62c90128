import { loadRecordings } from '../../src/data/hapt.ts';
import { FEATURE_NAMES, FEATURE_SET, Featurizer } from '../../src/features/index.ts';
import type { Dataset } from '../../src/model/types.ts';

/** Every labelled window of the bundled sample's users of one split: real HAR vectors through the featurizer. */
export function sampleWindows(split: 'train' | 'test'): Dataset {
  const rows: Float64Array[] = [];
  const labels: string[] = [];
  for (const r of loadRecordings(split, 'sample'))
    for (const w of new Featurizer().push(r.samples, r.labels)) {
      if (w.label === null) continue;
      rows.push(w.features);
      labels.push(w.label);
    }
  return { featureSet: FEATURE_SET, featureNames: FEATURE_NAMES, rows, labels };
}

/** Three well-apart blobs whose features span orders of magnitude (standardization matters); seeded. */
export function blobs(n: number, seed = 1): Dataset {
  const rand = lcg(seed);
  const rows: Float64Array[] = [];
  const labels: string[] = [];
  const centres: Record<string, number[]> = { A: [0, 0, 100], B: [5, 5, 100], C: [0, 5, 300] };
  for (let i = 0; i < n; i++) {
    const label = 'ABC'[i % 3];
    const c = centres[label];
    rows.push(Float64Array.from(c, (v, j) => v + (rand() - 0.5) * (j === 2 ? 40 : 2)));
    labels.push(label);
  }
  return { featureSet: 'test-3', featureNames: ['x', 'y', 'z'], rows, labels };
}

/** A seeded linear congruential generator of numbers in [0, 1): reproducible test data. */
export function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}
