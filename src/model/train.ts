import { createHash } from 'node:crypto';
import { InvalidOptionError, InvalidValueError } from '../errors.ts';
import { mulberry32 } from '../random.ts';
import { argmaxClasses, type Evaluation, evaluate } from './evaluate.ts';
import { ForestClassifier, type ForestOptions } from './forest.ts';
import { KnnClassifier, type KnnOptions } from './knn.ts';
import { LogisticClassifier, type LogisticOptions } from './logistic.ts';
import { SvmClassifier, type SvmOptions } from './svm.ts';
import type { Classifier, Dataset } from './types.ts';

/** One candidate to train: a kind and its options, under a name unique in the list. */
export type CandidateSpec =
  | { name: string; kind: 'knn'; options: KnnOptions }
  | { name: string; kind: 'logistic-regression'; options: LogisticOptions }
  | { name: string; kind: 'svm'; options: SvmOptions }
  | { name: string; kind: 'random-forest'; options: ForestOptions };

export interface CandidateResult {
  name: string;
  kind: string;
  classifier: Classifier;
  params: Readonly<Record<string, string | number | boolean>>;
  metrics: Evaluation;
  trainMs: number;
  /** Wall time of predicting the validation rows. */
  predictMs: number;
}

/**
 * The default candidates, measured on UCI HAR's subject split (docs/models.md):
 * SVM with an RBF kernel 96.8 %, linear SVM 96.6 %, logistic regression 96.2 %,
 * k-NN about 90 %. The random forest is left out: ml-cart's split search tries
 * every distinct value of every feature at every node, and five depth-8 trees
 * took over four minutes on the 7 136 training windows.
 */
export const DEFAULT_CANDIDATES: readonly CandidateSpec[] = Object.freeze([
  { name: 'knn-k5', kind: 'knn', options: { k: 5 } },
  { name: 'knn-k9', kind: 'knn', options: { k: 9 } },
  { name: 'knn-k15', kind: 'knn', options: { k: 15 } },
  { name: 'logreg', kind: 'logistic-regression', options: { steps: 400, rate: 1.5 } },
  { name: 'svm-linear', kind: 'svm', options: { kernel: 'linear', cost: 0.01 } },
  { name: 'svm-rbf', kind: 'svm', options: { kernel: 'rbf', cost: 10, gamma: 0.003 } },
]);

export function trainCandidate(data: Dataset, spec: CandidateSpec): Classifier {
  switch (spec.kind) {
    case 'knn':
      return KnnClassifier.train(data, spec.options);
    case 'logistic-regression':
      return LogisticClassifier.train(data, spec.options);
    case 'svm':
      return SvmClassifier.train(data, spec.options);
    case 'random-forest':
      return ForestClassifier.train(data, spec.options);
    default:
      throw new InvalidOptionError(`unknown candidate kind "${(spec as { kind: string }).kind}"`);
  }
}

export interface TrainCandidatesOptions {
  /** Called after each candidate (progress logging by the caller; this layer has no logger). */
  onResult?: (result: CandidateResult) => void;
}

/** Trains every candidate on `train` and scores it on `validation`, classes in one fixed order. */
export function trainCandidates(
  train: Dataset,
  validation: Dataset,
  specs: readonly CandidateSpec[] = DEFAULT_CANDIDATES,
  options: TrainCandidatesOptions = {},
): CandidateResult[] {
  const classes = checkCandidates(train, validation, specs);
  return specs.map((spec) => trainOne(train, validation, spec, classes, options));
}

/**
 * `trainCandidates`, giving the event loop a turn between candidates (a
 * consumer's heartbeats keep going between them). One candidate still runs
 * without a break: logistic regression took 37 s on 7 136 HAR windows, so a
 * caller with a shorter session timeout should use `trainCandidatesInWorkers`
 * (workers.ts).
 */
export async function trainCandidatesAsync(
  train: Dataset,
  validation: Dataset,
  specs: readonly CandidateSpec[] = DEFAULT_CANDIDATES,
  options: TrainCandidatesOptions = {},
): Promise<CandidateResult[]> {
  const classes = checkCandidates(train, validation, specs);
  const results: CandidateResult[] = [];
  for (const spec of specs) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    results.push(trainOne(train, validation, spec, classes, options));
  }
  return results;
}

/** Refuses an empty or ambiguous list and mismatched sets; returns the classes every evaluation uses, sorted. */
export function checkCandidates(train: Dataset, validation: Dataset, specs: readonly CandidateSpec[]): string[] {
  if (specs.length === 0) throw new InvalidOptionError('no candidates to train');
  const names = new Set(specs.map((s) => s.name));
  if (names.size !== specs.length) throw new InvalidOptionError('candidate names must be unique');
  if (train.featureSet !== validation.featureSet)
    throw new InvalidValueError(
      `train (${train.featureSet}) and validation (${validation.featureSet}) feature sets differ`,
    );
  if (validation.rows.length === 0) throw new InvalidValueError('the validation set is empty');
  return [...new Set([...train.labels, ...validation.labels])].sort();
}

function trainOne(
  train: Dataset,
  validation: Dataset,
  spec: CandidateSpec,
  classes: string[],
  options: TrainCandidatesOptions,
): CandidateResult {
  const t0 = performance.now();
  const classifier = trainCandidate(train, spec);
  const trainMs = performance.now() - t0;
  const t1 = performance.now();
  const predicted = argmaxClasses(classifier.classes, classifier.predictProba(validation.rows));
  const predictMs = performance.now() - t1;
  const result: CandidateResult = {
    name: spec.name,
    kind: classifier.kind,
    classifier,
    params: classifier.params,
    metrics: evaluate(validation.labels, predicted, classes),
    trainMs,
    predictMs,
  };
  options.onResult?.(result);
  return result;
}

/** The best result by `metric`; ties go to the faster-training candidate, then to list order. */
export function pickBest(
  results: readonly CandidateResult[],
  metric: 'macroF1' | 'accuracy' = 'macroF1',
): CandidateResult {
  if (results.length === 0) throw new InvalidValueError('no results to pick from');
  let best = results[0];
  for (const r of results.slice(1)) {
    const a = r.metrics[metric];
    const b = best.metrics[metric];
    if (a > b || (a === b && r.trainMs < best.trainMs)) best = r;
  }
  return best;
}

export interface SplitOptions {
  /** Share of rows (or groups) held out. */
  validationFraction: number;
  seed: number;
  /** `row`: rows drawn independently; `group`: whole groups (e.g. users) go to one side. @defaultValue 'row' */
  by?: 'row' | 'group';
  /** The group of each row, required with `by: 'group'`. */
  groups?: readonly (string | number)[];
}

/**
 * A seeded train/validation split. Rows keep their original order on each
 * side. Per-row draws are stratified by label so that a rare class is not
 * left out of validation by chance; per-group draws hold out whole groups,
 * which is how a model meets a user it has never seen.
 */
export function splitDataset(data: Dataset, options: SplitOptions): { train: Dataset; validation: Dataset } {
  const { validationFraction: f, seed } = options;
  const by = options.by ?? 'row';
  if (!(f > 0 && f < 1)) throw new InvalidOptionError(`validationFraction must be in (0, 1), got ${f}`);
  if (!Number.isInteger(seed)) throw new InvalidOptionError(`seed must be an integer, got ${seed}`);
  if (by !== 'row' && by !== 'group') throw new InvalidOptionError(`by must be row or group, got ${by}`);
  const n = data.rows.length;
  if (data.labels.length !== n) throw new InvalidValueError(`${n} rows but ${data.labels.length} labels`);
  const held = new Uint8Array(n);
  const random = mulberry32(seed);
  if (by === 'group') {
    const groups = options.groups;
    if (!groups || groups.length !== n) throw new InvalidOptionError('by: group needs one group per row in `groups`');
    const keys = [...new Set(groups.map(String))].sort();
    if (keys.length < 2) throw new InvalidOptionError('by: group needs at least two groups');
    const out = new Set(
      shuffled(keys, random).slice(0, Math.min(keys.length - 1, Math.max(1, Math.round(f * keys.length)))),
    );
    for (let i = 0; i < n; i++) held[i] = out.has(String(groups[i])) ? 1 : 0;
  } else {
    const byLabel = new Map<string, number[]>();
    for (let i = 0; i < n; i++) {
      const rows = byLabel.get(data.labels[i]);
      if (rows) rows.push(i);
      else byLabel.set(data.labels[i], [i]);
    }
    for (const label of [...byLabel.keys()].sort()) {
      const idx = shuffled(byLabel.get(label)!, random);
      for (const i of idx.slice(0, Math.round(f * idx.length))) held[i] = 1;
    }
  }
  const part = (want: number): Dataset => {
    const rows: Float64Array[] = [];
    const labels: string[] = [];
    for (let i = 0; i < n; i++)
      if (held[i] === want) {
        rows.push(data.rows[i]);
        labels.push(data.labels[i]);
      }
    return { featureSet: data.featureSet, featureNames: data.featureNames, rows, labels };
  };
  return { train: part(0), validation: part(1) };
}

/**
 * `sha256:<hex>` over the feature set, the feature names, then every row's
 * float64 values (little-endian) and label, in order: the same rows in the
 * same order give the same digest on any machine.
 */
export function datasetDigest(data: Dataset): string {
  const h = createHash('sha256');
  const text = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    h.update(len);
    h.update(b);
  };
  text(data.featureSet);
  for (const name of data.featureNames) text(name);
  for (let i = 0; i < data.rows.length; i++) {
    const r = data.rows[i];
    const bytes = Buffer.alloc(r.length * 8);
    for (let j = 0; j < r.length; j++) bytes.writeDoubleLE(r[j], j * 8);
    h.update(bytes);
    text(data.labels[i]);
  }
  return `sha256:${h.digest('hex')}`;
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
