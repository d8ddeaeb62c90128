import { loadModel } from '../../src/model/artifact.ts';
import type { Classifier, Dataset } from '../../src/model/types.ts';
import { CHAMPION, type ModelVersion, type Registry } from '../../src/tracking/types.ts';

export interface GateDecision {
  promote: boolean;
  metric: string;
  candidate: number;
  /** Production's score on the same validation data; null when there is none or it cannot score these vectors. */
  production: number | null;
  productionVersion: number | null;
  margin: number;
  reason: string;
}

/**
 * Champion/challenger: the candidate is promoted only if it beats the version
 * in production on the same fresh validation data by `margin`. The first
 * model, and a model replacing one trained on another feature set, is
 * promoted without a contest (the reason says so).
 */
export async function championGate(
  registry: Registry,
  model: string,
  validation: Dataset,
  candidateScore: number,
  score: (classifier: Classifier, data: Dataset) => number,
  options: { metric: string; margin: number },
): Promise<GateDecision> {
  const base = { metric: options.metric, candidate: candidateScore, margin: options.margin };
  const current: ModelVersion | null = await registry.byAlias(model, CHAMPION);
  if (current === null)
    return { ...base, promote: true, production: null, productionVersion: null, reason: 'no model in production' };
  const production = loadModel(await registry.readVersionArtifact(current), current.artifactDigest).classifier;
  if (production.featureSet !== validation.featureSet)
    return {
      ...base,
      promote: true,
      production: null,
      productionVersion: current.version,
      reason: `production version ${current.version} uses feature set ${production.featureSet}, not ${validation.featureSet}`,
    };
  const productionScore = score(production, validation);
  const promote = candidateScore >= productionScore + options.margin;
  const verb = promote ? 'beats' : 'does not beat';
  return {
    ...base,
    promote,
    production: productionScore,
    productionVersion: current.version,
    reason: `${options.metric} ${candidateScore.toFixed(4)} ${verb} production v${current.version} ${productionScore.toFixed(4)} by ${options.margin}`,
  };
}
