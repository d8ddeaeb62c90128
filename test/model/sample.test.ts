import { describe, expect, it } from 'vitest';
import { loadRecordings } from '../../src/data/hapt.ts';
import { FEATURE_NAMES, FEATURE_SET, Featurizer } from '../../src/features/index.ts';
import { type CandidateSpec, DEFAULT_CANDIDATES, trainCandidates } from '../../src/model/index.ts';
import type { Dataset } from '../../src/model/types.ts';

/** Windows of the bundled sample's users, every `stride`-th one (keeps the suite fast). */
function windows(split: 'train' | 'test', stride: number): Dataset {
  const rows: Float64Array[] = [];
  const labels: string[] = [];
  let i = 0;
  for (const r of loadRecordings(split, 'sample')) {
    for (const w of new Featurizer().push(r.samples, r.labels)) {
      if (w.label === null || i++ % stride !== 0) continue;
      rows.push(w.features);
      labels.push(w.label);
    }
  }
  return { featureSet: FEATURE_SET, featureNames: FEATURE_NAMES, rows, labels };
}

describe('candidates on the bundled sample (train users → unseen test users)', () => {
  it('every default kind beats chance (1/6) by a wide margin', () => {
    const train = windows('train', 2);
    const test = windows('test', 2);
    const kinds = new Set<string>();
    const specs = DEFAULT_CANDIDATES.filter((s) => !kinds.has(s.kind) && kinds.add(s.kind));
    const forest: CandidateSpec = { name: 'forest', kind: 'random-forest', options: { trees: 5, maxDepth: 5 } };
    const results = trainCandidates(train, test, [...specs, forest]);
    for (const r of results) expect(r.metrics.accuracy, r.name).toBeGreaterThan(0.6);
  });
});
