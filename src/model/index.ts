export { loadModel, registerModelKind, serializeModel, sha256 } from './artifact.ts';
export { argmaxClasses, type ClassMetrics, type Evaluation, evaluate } from './evaluate.ts';
export { ForestClassifier, type ForestOptions } from './forest.ts';
export { KnnClassifier, type KnnOptions } from './knn.ts';
export { LogisticClassifier, type LogisticOptions } from './logistic.ts';
export { Standardizer } from './standardize.ts';
export { SvmClassifier, type SvmKernel, type SvmOptions } from './svm.ts';
export {
  type CandidateResult,
  type CandidateSpec,
  DEFAULT_CANDIDATES,
  datasetDigest,
  pickBest,
  type SplitOptions,
  splitDataset,
  type TrainCandidatesOptions,
  trainCandidate,
  trainCandidates,
  trainCandidatesAsync,
} from './train.ts';
export * from './types.ts';
export { trainCandidatesInWorkers, type WorkerTrainOptions } from './workers.ts';
