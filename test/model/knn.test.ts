import { readFileSync } from 'node:fs';
import KNN from 'ml-knn';
import { describe, expect, it } from 'vitest';
import { ArtifactInvalidError } from '../../src/errors.ts';
import { KnnClassifier, loadModel, Standardizer, serializeModel } from '../../src/model/index.ts';
import { nearestRows } from '../../src/model/knn.ts';
import { blobs, sampleWindows } from '../support/datasets.ts';

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

describe('k-NN flat scan against ml-knn (the reference)', () => {
  const train = sampleWindows('train');
  const queries = sampleWindows('test').rows.filter((_, i) => i % 2 === 0);
  const standardizer = Standardizer.fit(train.rows);
  const d = standardizer.dimensions;
  const classes = [...new Set(train.labels)].sort();
  const labels = train.labels.map((l) => classes.indexOf(l));
  const standardized = standardizer.applyAll(train.rows);
  const flat = new Float64Array(train.rows.length * d);
  for (let i = 0; i < standardized.length; i++) flat.set(standardized[i], i * d);
  const reference = new KNN(standardized, labels, { k: 9 });

  it('finds the same neighbours on real HAR windows (218 features)', () => {
    expect(d).toBe(218);
    expect(queries.length).toBeGreaterThan(300);
    for (const k of [1, 9]) {
      // One neighbour more than asked: an exact tie at the k-th place shows as distance[k - 1] === distance[k].
      const index = new Int32Array(k + 1);
      const distance = new Float64Array(k + 1);
      let compared = 0;
      for (const row of queries) {
        const q = standardizer.apply(row);
        const expected = reference.kdTree
          .nearest(q, k)
          .map(([point, dist]) => ({ dist, label: point[d] }))
          .sort((a, b) => a.dist - b.dist);
        expect(nearestRows(flat, d, Float64Array.from(q), k + 1, index, distance)).toBe(k + 1);
        // The distances agree bit for bit (same sum order as ml-distance-euclidean).
        expect(Array.from(distance.subarray(0, k), Math.sqrt)).toEqual(expected.map((e) => e.dist));
        // Which row wins an exact tie at the k-th place is arbitrary in both; elsewhere the votes agree.
        if (distance[k - 1] === distance[k]) continue;
        compared++;
        const votes = (ls: number[]) => classes.map((_, c) => ls.filter((l) => l === c).length);
        expect(votes(Array.from(index.subarray(0, k), (i) => labels[i]))).toEqual(votes(expected.map((e) => e.label)));
      }
      expect(compared).toBeGreaterThan(queries.length * 0.9);
    }
  });

  it('gives the classifier the vote shares ml-knn gives', () => {
    const model = KnnClassifier.train(train, { k: 9 });
    const proba = model.predictProba(queries.slice(0, 150));
    queries.slice(0, 150).forEach((row, r) => {
      const votes = new Array<number>(classes.length).fill(0);
      for (const [point] of reference.kdTree.nearest(standardizer.apply(row), 9)) votes[point[d]]++;
      expect(proba[r]).toEqual(votes.map((v) => v / 9));
    });
  });

  it('breaks exact ties towards the lower row index and keeps k sorted', () => {
    const rows = new Float64Array([0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 2, 2]);
    const index = new Int32Array(4);
    const distance = new Float64Array(4);
    expect(nearestRows(rows, 2, new Float64Array([0, 0]), 4, index, distance)).toBe(4);
    expect(Array.from(index)).toEqual([0, 4, 1, 2]);
    expect(Array.from(distance)).toEqual([0, 0, 1, 1]);
    expect(nearestRows(rows, 2, new Float64Array([0, 0]), 4, index, distance.fill(9))).toBe(4);
  });
});

describe('k-NN artifacts', () => {
  it('loads an artifact written before the flat scan and predicts as it did', () => {
    const fixture = JSON.parse(readFileSync(new URL('../fixtures/knn-artifact-v1.json', import.meta.url), 'utf8'));
    const bytes = Buffer.from(fixture.artifact);
    const { classifier } = loadModel(bytes);
    expect(classifier.predictProba(fixture.queries)).toEqual(fixture.proba);
    expect(serializeModel(classifier, ['a', 'b', 'c', 'd']).bytes.equals(bytes)).toBe(true);
  });

  it('refuses an artifact whose k exceeds its training rows', () => {
    const fixture = JSON.parse(readFileSync(new URL('../fixtures/knn-artifact-v1.json', import.meta.url), 'utf8'));
    const doc = JSON.parse(fixture.artifact);
    for (const k of [25, 1e9]) {
      doc.params.k = k;
      expect(() => loadModel(Buffer.from(JSON.stringify(doc)))).toThrow(ArtifactInvalidError);
      expect(() => loadModel(Buffer.from(JSON.stringify(doc)))).toThrow(/exceeds the 24 training rows/);
    }
    doc.params.k = 24;
    expect(loadModel(Buffer.from(JSON.stringify(doc))).classifier.params.k).toBe(24);
  });
});
