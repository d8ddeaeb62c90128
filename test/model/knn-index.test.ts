import { describe, expect, it } from 'vitest';
import { FEATURE_NAMES } from '../../src/features/index.ts';
import { KnnClassifier, loadModel, Standardizer, serializeModel } from '../../src/model/index.ts';
import { nearestRows } from '../../src/model/knn.ts';
import { KnnIndex } from '../../src/model/knn-index.ts';
import { blobs, sampleWindows } from '../support/datasets.ts';

const train = sampleWindows('train');
const test = sampleWindows('test');

// The bounded search (knn-index.ts) against the plain scan (nearestRows) it must reproduce.
describe('k-NN search through rotated-space bounds', () => {
  it('finds the plain scan’s neighbours, distances bit for bit, on real windows', () => {
    expect(train.rows.length).toBeGreaterThan(500);
    const standardizer = Standardizer.fit(train.rows);
    const d = standardizer.dimensions;
    const flat = new Float64Array(train.rows.length * d);
    for (let i = 0; i < train.rows.length; i++)
      standardizer.applyInto(train.rows[i], flat.subarray(i * d, (i + 1) * d));
    const index = KnnIndex.build(flat, d);
    expect(index).not.toBeNull();
    const query = new Float64Array(d);
    for (const k of [1, 5, 15]) {
      const [ia, da, ib, db] = [new Int32Array(k), new Float64Array(k), new Int32Array(k), new Float64Array(k)];
      for (const row of [...test.rows, ...train.rows.slice(0, 50)]) {
        standardizer.applyInto(row, query);
        expect(index!.search(query, k, ia, da)).toBe(nearestRows(flat, d, query, k, ib, db));
        expect(ia).toEqual(ib);
        expect(da).toEqual(db);
      }
    }
  });

  it('breaks exact distance ties as the plain scan does: the lower row index first', () => {
    // Each training row three times: every distance is an exact three-way tie.
    const rows = train.rows.slice(0, 300).flatMap((r) => [r, r, r]);
    const labels = train.labels.slice(0, 300).flatMap((l) => [l, l, l]);
    const model = KnnClassifier.train({ ...train, rows, labels }, { k: 4 });
    const queries = [...test.rows.slice(0, 200), ...train.rows.slice(0, 20)];
    expect(model.predictProba(queries)).toEqual(model.predictProbaScan(queries));
  });

  it('gives the classifier the same probabilities as the plain scan, before and after an artifact round trip', () => {
    for (const k of [5, 9]) {
      const model = KnnClassifier.train(train, { k });
      const { bytes, digest } = serializeModel(model, FEATURE_NAMES);
      const loaded = loadModel(bytes, digest).classifier as KnnClassifier;
      const plain = model.predictProbaScan(test.rows);
      expect(model.predictProba(test.rows)).toEqual(plain);
      expect(loaded.predictProba(test.rows)).toEqual(plain);
    }
  });

  it('is not built for few rows (the plain scan serves them)', () => {
    const data = blobs(100);
    expect(KnnIndex.build(new Float64Array(100 * 3), 3)).toBeNull();
    const model = KnnClassifier.train(data, { k: 3 });
    expect(model.predictProba(blobs(20, 5).rows)).toEqual(model.predictProbaScan(blobs(20, 5).rows));
  });
});
