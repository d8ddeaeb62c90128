export { loadModel, registerModelKind, serializeModel, sha256 } from './artifact.ts';
export { KnnClassifier, type KnnOptions } from './knn.ts';
export { Standardizer } from './standardize.ts';
export * from './types.ts';
