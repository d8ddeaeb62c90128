import { type CandidateSpec, DEFAULT_CANDIDATES, trainCandidatesAsync } from '../../src/model/train.ts';
import type { CandidateOutcome, Trainer } from './retrain.ts';

/**
 * Candidates the main job trains on the path from drift to a new model: the
 * fast ones (k-NN, linear SVM, a shorter logistic regression). The retrainer
 * service defaults to the full list (DEFAULT_CANDIDATES, docs/models.md).
 */
export const QUICK_CANDIDATES: readonly CandidateSpec[] = Object.freeze([
  { name: 'knn-k5', kind: 'knn', options: { k: 5 } },
  { name: 'knn-k9', kind: 'knn', options: { k: 9 } },
  { name: 'svm-linear', kind: 'svm', options: { kernel: 'linear', cost: 0.01 } },
  { name: 'logreg', kind: 'logistic-regression', options: { steps: 200, rate: 1.5 } },
]);

/** Trains `specs` with the model layer and flattens each evaluation into run metrics. */
export function candidateTrainer(specs: readonly CandidateSpec[] = DEFAULT_CANDIDATES): Trainer {
  return async (train, validation) =>
    (await trainCandidatesAsync(train, validation, specs)).map(
      (r): CandidateOutcome => ({
        name: r.name,
        kind: r.kind,
        classifier: r.classifier,
        params: { ...r.params },
        trainSeconds: r.trainMs / 1000,
        predictSeconds: r.predictMs / 1000,
        metrics: {
          accuracy: r.metrics.accuracy,
          macroF1: r.metrics.macroF1,
          ...Object.fromEntries(
            Object.entries(r.metrics.perClass).flatMap(([c, m]) => [
              [`precision_${c}`, m.precision],
              [`recall_${c}`, m.recall],
            ]),
          ),
        },
        confusion: { classes: r.metrics.classes, matrix: r.metrics.confusion },
      }),
    );
}
