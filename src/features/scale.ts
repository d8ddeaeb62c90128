import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ArtifactInvalidError } from '../errors.ts';
import { FEATURE_NAMES, FEATURE_SET } from './plan.ts';

export interface FeatureScale {
  mean: Float64Array;
  /** 1 / std, with 1 where a feature does not vary. */
  inverseStd: Float64Array;
}

interface ScaleFile {
  featureSet: string;
  scale: Record<string, { mean: number[]; std: number[] }>;
}

let cache: Map<string, FeatureScale> | undefined;

function load(): Map<string, FeatureScale> {
  const file = JSON.parse(readFileSync(path.join(import.meta.dirname, 'reference-scale.json'), 'utf8')) as ScaleFile;
  if (file.featureSet !== FEATURE_SET) {
    throw new ArtifactInvalidError(
      `reference-scale.json is for ${file.featureSet}, not ${FEATURE_SET}: run npx tsx scripts/make-feature-scale.ts`,
      { context: { featureSet: file.featureSet, expected: FEATURE_SET } },
    );
  }
  const out = new Map<string, FeatureScale>();
  for (const [key, { mean, std }] of Object.entries(file.scale)) {
    out.set(key, {
      mean: Float64Array.from(mean),
      inverseStd: Float64Array.from(std, (s) => (s > 1e-12 ? 1 / s : 1)),
    });
  }
  return out;
}

/**
 * Reference mean and spread of every feature within one activity (or over all
 * labelled windows for an activity the reference does not know), measured on
 * the bundled training users by scripts/make-feature-scale.ts.
 */
export function referenceScale(activity: string | null): FeatureScale {
  cache ??= load();
  return cache.get(activity ?? '*') ?? cache.get('*')!;
}

/** Writes (v - mean) / std of each feature into `out`. */
export function standardize(values: ArrayLike<number>, scale: FeatureScale, out: Float64Array): Float64Array {
  for (let k = 0; k < FEATURE_NAMES.length; k++) out[k] = (values[k] - scale.mean[k]) * scale.inverseStd[k];
  return out;
}
