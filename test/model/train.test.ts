import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.ts';
import {
  type CandidateResult,
  datasetDigest,
  evaluate,
  pickBest,
  splitDataset,
  trainCandidates,
  trainCandidatesAsync,
} from '../../src/model/index.ts';
import type { Dataset } from '../../src/model/types.ts';

describe('evaluate', () => {
  it('matches metrics computed by hand', () => {
    // truth:     a a a b b c
    // predicted: a a b b c c
    const e = evaluate(['a', 'a', 'a', 'b', 'b', 'c'], ['a', 'a', 'b', 'b', 'c', 'c'], ['a', 'b', 'c']);
    expect(e.confusion).toEqual([
      [2, 1, 0],
      [0, 1, 1],
      [0, 0, 1],
    ]);
    expect(e.accuracy).toBeCloseTo(4 / 6, 15);
    expect(e.perClass.a).toEqual({ precision: 1, recall: 2 / 3, f1: 0.8, support: 3 });
    expect(e.perClass.b.precision).toBeCloseTo(0.5, 15);
    expect(e.perClass.b.recall).toBeCloseTo(0.5, 15);
    expect(e.perClass.c.precision).toBeCloseTo(0.5, 15);
    expect(e.perClass.c.recall).toBe(1);
    expect(e.perClass.c.f1).toBeCloseTo(2 / 3, 15);
    expect(e.macroF1).toBeCloseTo((0.8 + 0.5 + 2 / 3) / 3, 15);
  });

  it('keeps the given class order and counts an absent class as F1 0', () => {
    const e = evaluate(['x', 'y'], ['x', 'y'], ['z', 'y', 'x']);
    expect(e.classes).toEqual(['z', 'y', 'x']);
    expect(e.confusion).toEqual([
      [0, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    expect(e.macroF1).toBeCloseTo(2 / 3, 15);
    expect(() => evaluate(['x'], ['w'], ['x', 'y'])).toThrow(/"w" is not one of the classes/);
    expect(() => evaluate(['x'], [])).toThrow(/1 true labels but 0 predictions/);
  });
});

function dataset(n: number): Dataset {
  const rows: Float64Array[] = [];
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const label = ['walk', 'sit', 'lay'][i % 3];
    rows.push(Float64Array.of((i % 3) * 10 + ((i * 7) % 5) / 5, i % 2, (i * 13) % 11));
    labels.push(label);
  }
  return { featureSet: 'test-3', featureNames: ['a', 'b', 'c'], rows, labels };
}

describe('splitDataset', () => {
  it('is seeded, deterministic, disjoint, stratified by label', () => {
    const data = dataset(300);
    const a = splitDataset(data, { validationFraction: 0.2, seed: 42 });
    const b = splitDataset(data, { validationFraction: 0.2, seed: 42 });
    const c = splitDataset(data, { validationFraction: 0.2, seed: 43 });
    expect(a.validation.rows).toEqual(b.validation.rows);
    expect(a.validation.rows).not.toEqual(c.validation.rows);
    expect(a.train.rows.length + a.validation.rows.length).toBe(300);
    for (const label of ['walk', 'sit', 'lay']) expect(a.validation.labels.filter((l) => l === label)).toHaveLength(20);
    const held = new Set(a.validation.rows);
    expect(a.train.rows.some((r) => held.has(r))).toBe(false);
  });

  it('holds out whole groups with by: group', () => {
    const data = dataset(100);
    const groups = data.rows.map((_, i) => `user-${i % 10}`);
    const { train, validation } = splitDataset(data, { validationFraction: 0.3, seed: 1, by: 'group', groups });
    const groupOf = new Map(data.rows.map((r, i) => [r, groups[i]]));
    const heldGroups = new Set(validation.rows.map((r) => groupOf.get(r)));
    expect(heldGroups.size).toBe(3);
    expect(train.rows.some((r) => heldGroups.has(groupOf.get(r)))).toBe(false);
    expect(() => splitDataset(data, { validationFraction: 0.3, seed: 1, by: 'group' })).toThrow(InvalidOptionError);
    expect(() => splitDataset(data, { validationFraction: 1, seed: 1 })).toThrow(InvalidOptionError);
  });
});

describe('datasetDigest', () => {
  it('is stable and changes when one label or one value changes', () => {
    const data = dataset(30);
    const digest = datasetDigest(data);
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(datasetDigest(dataset(30))).toBe(digest);
    const relabelled = { ...data, labels: data.labels.map((l, i) => (i === 17 ? 'walk' : l)) };
    expect(data.labels[17]).not.toBe('walk');
    expect(datasetDigest(relabelled)).not.toBe(digest);
    const rows = data.rows.map((r) => Float64Array.from(r));
    rows[3][1] += 1e-12;
    expect(datasetDigest({ ...data, rows })).not.toBe(digest);
    expect(datasetDigest({ ...data, rows: [...data.rows].reverse(), labels: [...data.labels].reverse() })).not.toBe(
      digest,
    );
  });
});

describe('trainCandidates and pickBest', () => {
  it('trains, scores on validation and picks by the chosen metric', () => {
    const { train, validation } = splitDataset(dataset(240), { validationFraction: 0.25, seed: 7 });
    const seen: string[] = [];
    const results = trainCandidates(
      train,
      validation,
      [
        { name: 'knn-k3', kind: 'knn', options: { k: 3 } },
        { name: 'svm', kind: 'svm', options: { kernel: 'linear', cost: 1 } },
      ],
      { onResult: (r) => seen.push(r.name) },
    );
    expect(seen).toEqual(['knn-k3', 'svm']);
    for (const r of results) {
      expect(r.metrics.rows).toBe(validation.rows.length);
      expect(r.metrics.classes).toEqual(['lay', 'sit', 'walk']);
      expect(r.trainMs).toBeGreaterThanOrEqual(0);
      expect(r.metrics.accuracy).toBeGreaterThan(0.9);
    }
    const fake = (name: string, accuracy: number, macroF1: number, trainMs: number) =>
      ({ ...results[0], name, trainMs, metrics: { ...results[0].metrics, accuracy, macroF1 } }) as CandidateResult;
    const options = [fake('a', 0.9, 0.8, 10), fake('b', 0.85, 0.85, 10), fake('c', 0.9, 0.7, 5)];
    expect(pickBest(options).name).toBe('b');
    expect(pickBest(options, 'accuracy').name).toBe('c');
    expect(() => trainCandidates(train, validation, [])).toThrow(InvalidOptionError);
  });
});

describe('trainCandidatesAsync', () => {
  it('gives the same scores as the synchronous call and lets timers run between candidates', async () => {
    const { train, validation } = splitDataset(dataset(240), { validationFraction: 0.25, seed: 3 });
    const specs = [
      { name: 'knn-k3', kind: 'knn', options: { k: 3 } },
      { name: 'logreg', kind: 'logistic-regression', options: { steps: 50, rate: 1 } },
    ] as const;
    const order: string[] = [];
    const pending = trainCandidatesAsync(train, validation, specs, { onResult: (r) => order.push(r.name) });
    setImmediate(() => order.push('tick'));
    const results = await pending;
    expect(order).toEqual(['knn-k3', 'tick', 'logreg']);
    const sync = trainCandidates(train, validation, specs);
    expect(results.map((r) => r.metrics)).toEqual(sync.map((r) => r.metrics));
    await expect(trainCandidatesAsync(train, validation, [])).rejects.toThrow(InvalidOptionError);
  });
});
