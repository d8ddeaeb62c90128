import { describe, expect, it } from 'vitest';
import { ArtifactInvalidError } from '../../src/errors.ts';
import {
  argmaxClasses,
  type CandidateSpec,
  type Classifier,
  loadModel,
  type SvmClassifier,
  serializeModel,
  trainCandidate,
} from '../../src/model/index.ts';
import type { Dataset } from '../../src/model/types.ts';
import { blobs } from '../support/datasets.ts';

const SPECS: CandidateSpec[] = [
  { name: 'logreg', kind: 'logistic-regression', options: { steps: 200, rate: 1 } },
  { name: 'svm-linear', kind: 'svm', options: { kernel: 'linear', cost: 1 } },
  { name: 'svm-rbf', kind: 'svm', options: { kernel: 'rbf', cost: 10, gamma: 0.5 } },
  { name: 'svm-proba', kind: 'svm', options: { kernel: 'rbf', cost: 10, gamma: 0.5, probability: true } },
  { name: 'forest', kind: 'random-forest', options: { trees: 7, maxFeatures: 0.7, maxDepth: 5, seed: 3 } },
];

const accuracy = (model: Classifier, data: Dataset) => {
  const predicted = argmaxClasses(model.classes, model.predictProba(data.rows));
  return predicted.filter((p, i) => p === data.labels[i]).length / data.labels.length;
};

describe.each(SPECS)('$name', (spec) => {
  const train = blobs(240);
  const test = blobs(90, 7);

  it('learns well-apart classes; probabilities are distributions over its classes', () => {
    const model = trainCandidate(train, spec);
    expect(model.kind).toBe(spec.kind);
    expect(model.classes).toEqual(['A', 'B', 'C']);
    expect(accuracy(model, test)).toBeGreaterThan(0.95);
    for (const p of model.predictProba(test.rows)) {
      expect(p).toHaveLength(3);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      for (const v of p) expect(v).toBeGreaterThanOrEqual(0);
      // The prediction event's schema refuses a probability over 1 (a sum of twenty 1/20 votes gave 1 + 2e-16).
      for (const v of p) expect(v).toBeLessThanOrEqual(1);
    }
  });

  it('round-trips through its artifact exactly', () => {
    const model = trainCandidate(train, spec);
    const { bytes, digest } = serializeModel(model, train.featureNames);
    const loaded = loadModel(bytes, digest);
    expect(loaded.classifier.kind).toBe(spec.kind);
    expect(loaded.classifier.params).toEqual(model.params);
    expect(loaded.classifier.predictProba(test.rows)).toEqual(model.predictProba(test.rows));
    expect(serializeModel(loaded.classifier, train.featureNames).digest).toBe(digest);
  });

  it('refuses corrupted artifacts', () => {
    const model = trainCandidate(train, spec);
    const { bytes, digest } = serializeModel(model, train.featureNames);
    const flipped = Buffer.from(bytes);
    flipped[Math.floor(flipped.length / 2)] ^= 1;
    expect(() => loadModel(flipped, digest)).toThrow(ArtifactInvalidError);
    expect(() => loadModel(bytes.subarray(0, bytes.length - 10))).toThrow(ArtifactInvalidError);
    // Valid JSON whose state was tampered with (no digest to catch it): the kind's loader must refuse it.
    const doc = JSON.parse(bytes.toString());
    const state = doc.state as Record<string, unknown>;
    if (spec.kind === 'svm')
      state.libsvm = String(state.libsvm).replace('kernel_type', 'kernel_type linear\nkernel_type');
    else if (spec.kind === 'random-forest') (state.trees as { column: number[] }[])[0].column.push(0);
    else state.weights = String(state.weights).slice(0, 16);
    expect(() => loadModel(Buffer.from(JSON.stringify(doc)))).toThrow(ArtifactInvalidError);
  });
});

describe('svm artifact checks', () => {
  it('refuses libsvm text with a support vector past the feature count', () => {
    const data = blobs(60);
    const model = trainCandidate(data, SPECS[1]);
    const doc = JSON.parse(serializeModel(model, data.featureNames).bytes.toString());
    doc.state.libsvm = doc.state.libsvm.replace(/ 3:/, ' 4:');
    expect(() => loadModel(Buffer.from(JSON.stringify(doc)))).toThrow(/bad feature on support vector/);
  });
});

describe('svm probabilities', () => {
  it('are one-hot by default and libsvm Platt estimates with probability: true', () => {
    const data = blobs(150);
    const hard = trainCandidate(data, SPECS[2]).predictProba(data.rows.slice(0, 20));
    for (const p of hard) expect([...p].sort()).toEqual([0, 0, 1]);
    const soft = trainCandidate(data, SPECS[3]).predictProba(data.rows.slice(0, 20));
    expect(soft.some((p) => p.every((v) => v > 0 && v < 1))).toBe(true);
  });
});

describe('random forest vote shares', () => {
  it('are votes divided once by the tree count: twenty unanimous trees give exactly 1', () => {
    const model = trainCandidate(blobs(240), { name: 'f', kind: 'random-forest', options: { trees: 20 } });
    for (const p of model.predictProba(blobs(90, 7).rows)) for (const v of p) expect(v).toBe(Math.round(v * 20) / 20);
    expect(model.predictProba(blobs(90, 7).rows).some((p) => p.includes(1))).toBe(true);
  });
});

describe('svm artifacts of several MB', () => {
  it('load side by side without disturbing each other (libsvm-js stack overflow, see svm.ts)', () => {
    // 1500 rows × 200 noisy features: most rows become support vectors, a model text of several MB.
    let s = 11;
    const rand = () => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s / 2147483648;
    };
    const rows = Array.from({ length: 1500 }, (_, i) =>
      Float64Array.from({ length: 200 }, (_, j) => rand() + (j === 0 ? i % 3 : 0) * 0.3),
    );
    const labels = rows.map((_, i) => 'ABC'[i % 3]);
    const names = Array.from({ length: 200 }, (_, j) => `f${j}`);
    const data2: Dataset = { featureSet: 'noise', featureNames: names, rows, labels };
    const probe = rows.slice(0, 300);
    const a = trainCandidate(data2, { name: 'a', kind: 'svm', options: { kernel: 'rbf', cost: 10, gamma: 0.01 } });
    const b = trainCandidate(data2, { name: 'b', kind: 'svm', options: { kernel: 'linear', cost: 1 } });
    // libsvm's own prediction is what the overflow corrupted; predictProba (svm-scorer.ts) must agree with it.
    const libsvm = (m: Classifier) => (m as SvmClassifier).predictProbaLibsvm(probe);
    const before = [libsvm(a), libsvm(b)];
    const artifacts = [a, b].map((m) => serializeModel(m, names));
    expect(artifacts[0].bytes.length).toBeGreaterThan(2e6);
    const loaded = artifacts.map(({ bytes, digest }) => loadModel(bytes, digest).classifier);
    expect([libsvm(a), libsvm(b)]).toEqual(before);
    expect(loaded.map(libsvm)).toEqual(before);
    expect(loaded.map((m) => m.predictProba(probe))).toEqual(before);
  });
});
