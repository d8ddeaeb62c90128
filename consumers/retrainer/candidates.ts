import { InvalidOptionError } from '../../src/errors.ts';
import { type CandidateSpec, DEFAULT_CANDIDATES, trainCandidatesAsync } from '../../src/model/train.ts';
import type { Dataset } from '../../src/model/types.ts';
import { trainCandidatesInWorkers } from '../../src/model/workers.ts';
import type { CandidateOutcome, Trainer } from './retrain.ts';

/**
 * Candidates the main job trains on the path from drift to a new model: the
 * fast ones, k-NN and linear SVM, under a second each on a few thousand
 * windows. Logistic regression took 4 to 6 s of every 7 to 9 s retraining on
 * npm start and was never the best, so it is left to the full list (the
 * retrainer service's default, DEFAULT_CANDIDATES, docs/models.md).
 */
export const QUICK_CANDIDATES: readonly CandidateSpec[] = Object.freeze([
  { name: 'knn-k5', kind: 'knn', options: { k: 5 } },
  { name: 'knn-k9', kind: 'knn', options: { k: 9 } },
  { name: 'svm-linear', kind: 'svm', options: { kernel: 'linear', cost: 0.01 } },
]);

export interface CandidateTrainerOptions {
  /**
   * `workers`: each candidate in a worker thread, so that the consumer's
   * heartbeats and polls go on while logistic regression trains (10 to 40 s on
   * HAR); `in-process`: on the event loop between yields (no threads, e.g. to
   * profile a candidate). @defaultValue 'workers'
   */
  mode?: 'workers' | 'in-process';
  /** Candidates trained at once in `workers` mode. @defaultValue max(1, availableParallelism() - 1) */
  concurrency?: number;
}

/** Trains `specs` with the model layer and flattens each evaluation into run metrics. */
export function candidateTrainer(
  specs: readonly CandidateSpec[] = DEFAULT_CANDIDATES,
  options: CandidateTrainerOptions = {},
): Trainer {
  const mode = options.mode ?? 'workers';
  if (mode !== 'workers' && mode !== 'in-process')
    throw new InvalidOptionError(`candidate trainer mode must be workers or in-process, got ${mode}`);
  if (mode === 'in-process' && options.concurrency !== undefined)
    throw new InvalidOptionError('concurrency applies to mode workers only; drop it or use mode: workers');
  const { concurrency } = options;
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1))
    throw new InvalidOptionError(`candidate trainer concurrency must be a positive integer, got ${concurrency}`);
  const run = (train: Dataset, validation: Dataset) =>
    mode === 'workers'
      ? trainCandidatesInWorkers(train, validation, specs, { concurrency })
      : trainCandidatesAsync(train, validation, specs);
  return async (train, validation) =>
    (await run(train, validation)).map(
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
