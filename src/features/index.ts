export { WINDOW } from './dsp.ts';
export {
  type FeatureWindow,
  Featurizer,
  type FeaturizerOptions,
  flattenRows,
  INPUT_CHANNELS,
  STEP,
} from './featurizer.ts';
export { FEATURE_NAMES, FEATURE_SET } from './plan.ts';
export { type FeatureScale, referenceScale, standardize } from './scale.ts';
