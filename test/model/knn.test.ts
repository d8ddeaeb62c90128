import { describe, expect, it } from 'vitest';
import { ArtifactInvalidError } from '../../src/errors.ts';
import { KnnClassifier, loadModel, serializeModel } from '../../src/model/index.ts';
import type { Dataset } from '../../src/model/types.ts';

function blobs(n: number, seed = 1): Dataset {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
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

describe('k-NN classifier', () => {
  it('separates well-apart classes and gives vote shares as probabilities', () => {
    const model = KnnClassifier.train(blobs(300), { k: 5 });
    const test = blobs(90, 7);
    const proba = model.predictProba(test.rows);
    const predicted = proba.map((p) => model.classes[p.indexOf(Math.max(...p))]);
    const correct = predicted.filter((p, i) => p === test.labels[i]).length;
    expect(correct / test.rows.length).toBeGreaterThan(0.95);
    for (const p of proba) {
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      for (const v of p) expect(Number.isInteger(v * 5)).toBe(true);
    }
  });

  it('round-trips through its artifact bit for bit and refuses tampered bytes', () => {
    const data = blobs(120);
    const model = KnnClassifier.train(data, { k: 3 });
    const { bytes, digest } = serializeModel(model, data.featureNames);
    const loaded = loadModel(bytes, digest);
    expect(loaded.digest).toBe(digest);
    expect(loaded.classifier.predictProba(blobs(30, 3).rows)).toEqual(model.predictProba(blobs(30, 3).rows));
    expect(serializeModel(loaded.classifier, data.featureNames).digest).toBe(digest);
    const tampered = Buffer.from(bytes);
    tampered[tampered.length - 3] ^= 1;
    expect(() => loadModel(tampered, digest)).toThrow(ArtifactInvalidError);
    const unknown = Buffer.from(bytes.toString().replace('"kind":"knn"', '"kind":"eval"'));
    expect(() => loadModel(unknown)).toThrow(/unknown model kind "eval"/);
  });

  it('refuses an artifact whose k exceeds its rows or whose feature names do not match its width', () => {
    const data = blobs(30);
    const { bytes } = serializeModel(KnnClassifier.train(data, { k: 3 }), data.featureNames);
    const doc = JSON.parse(bytes.toString());
    const tamper = (change: (d: typeof doc) => void) => {
      const copy = structuredClone(doc);
      change(copy);
      return Buffer.from(JSON.stringify(copy));
    };
    expect(() => loadModel(tamper((d) => (d.params.k = 1e9)))).toThrow(/k = 1000000000 exceeds the 30 training rows/);
    expect(() => loadModel(tamper((d) => d.featureNames.pop()))).toThrow(ArtifactInvalidError);
    expect(() => loadModel(tamper((d) => d.featureNames.push('w')))).toThrow(/names 4 features but its model takes 3/);
    expect(loadModel(tamper(() => {})).classifier.params.k).toBe(3);
  });
});
