import { describe, expect, it } from 'vitest';
import { FEATURE_NAMES } from '../../src/features/index.ts';
import { loadModel, SvmClassifier, type SvmOptions, serializeModel } from '../../src/model/index.ts';
import { sampleWindows } from '../support/datasets.ts';

const train = sampleWindows('train');
const test = sampleWindows('test');

// The JavaScript scorer (svm-scorer.ts) against libsvm-js's own prediction on the same loaded model.
describe('SVM scoring in JavaScript agrees with libsvm-js on real windows', () => {
  const cases: [string, SvmOptions][] = [
    ['linear (weights collapsed per class pair)', { kernel: 'linear', cost: 0.01 }],
    ['rbf', { kernel: 'rbf', cost: 10, gamma: 0.003 }],
    ['linear with probabilities', { kernel: 'linear', cost: 0.01, probability: true }],
    ['rbf with probabilities', { kernel: 'rbf', cost: 10, gamma: 0.003, probability: true }],
  ];
  it.each(cases)('%s', (_, options) => {
    const trained = SvmClassifier.train(train, options);
    const { bytes, digest } = serializeModel(trained, FEATURE_NAMES);
    const svm = loadModel(bytes, digest).classifier as SvmClassifier;
    const rows = [...test.rows, ...train.rows.slice(0, 300)];
    expect(rows.length).toBeGreaterThan(500);
    const fast = svm.predictProba(rows);
    const plain = svm.predictProbaLibsvm(rows);
    if (options.probability) {
      let worst = 0;
      for (let r = 0; r < rows.length; r++)
        for (let c = 0; c < svm.classes.length; c++) worst = Math.max(worst, Math.abs(fast[r][c] - plain[r][c]));
      expect(worst).toBeLessThan(1e-9);
    } else expect(fast).toEqual(plain);
    expect(trained.predictProba(rows)).toEqual(fast);
  });
});
