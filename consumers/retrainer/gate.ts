import { loadModel } from '../../src/model/artifact.ts';
import { argmaxClasses } from '../../src/model/evaluate.ts';
import { comparePaired } from '../../src/model/significance.ts';
import { parseTrainedUntil, TRAINED_UNTIL_TAG } from '../../src/model/trained-until.ts';
import type { Classifier } from '../../src/model/types.ts';
import type { ModelEvent } from '../../src/schemas/types.gen.ts';
import { CHAMPION, type ModelVersion, type Registry } from '../../src/tracking/types.ts';
import { type PositionedDataset, unseenBy } from './dataset.ts';

/** The paired test's figures, as the model events carry them (schemas/v1/model-event.json, `gate`). */
export type GateTest = NonNullable<ModelEvent['gate']>;

export interface GateDecision extends GateTest {
  promote: boolean;
  /** What the gate compares: accuracy on the same windows, paired. */
  metric: 'accuracy';
  /** The challenger's accuracy on the compared windows: the gate's estimate of its live accuracy. */
  candidate: number;
  /** Production's accuracy on the same windows; null when there is none or it cannot score these vectors. */
  production: number | null;
  productionVersion: number | null;
  reason: string;
}

export interface GateOptions {
  alpha: number;
  /** Fewer comparable windows than this: not promoted (too little evidence). */
  minWindows: number;
}

const predict = (c: Classifier, rows: PositionedDataset['rows']) => argmaxClasses(c.classes, c.predictProba(rows));

/**
 * Champion/challenger with a paired test (docs/retraining.md): both models
 * predict the same validation windows — only windows that start after
 * everything either of them trained on — and the challenger is promoted only
 * if the one-sided exact McNemar test says it is more accurate at level
 * `alpha`. The first model, and a model replacing one trained on another
 * feature set, is promoted without a contest (the reason says so).
 */
export async function championGate(
  registry: Registry,
  model: string,
  validation: PositionedDataset,
  challenger: Classifier,
  options: GateOptions,
): Promise<GateDecision> {
  const current: ModelVersion | null = await registry.byAlias(model, CHAMPION);
  const base = { metric: 'accuracy' as const, test: 'mcnemar-exact' as const, alpha: options.alpha };
  const alone = (reason: string, productionVersion: number | null): GateDecision => {
    const compared = unseenBy(validation, null);
    const predicted = predict(challenger, compared.rows);
    const right = predicted.reduce((n, p, i) => n + (p === compared.labels[i] ? 1 : 0), 0);
    return {
      ...base,
      promote: true,
      candidate: compared.rows.length > 0 ? right / compared.rows.length : 0,
      production: null,
      productionVersion,
      pValue: null,
      windows: compared.rows.length,
      challengerOnly: 0,
      championOnly: 0,
      reason,
    };
  };
  if (current === null) return alone('no model in production', null);
  const production = loadModel(await registry.readVersionArtifact(current), current.artifactDigest).classifier;
  if (production.featureSet !== validation.featureSet)
    return alone(
      `production version ${current.version} uses feature set ${production.featureSet}, not ${validation.featureSet}`,
      current.version,
    );
  const fresh = unseenBy(validation, parseTrainedUntil(current.tags[TRAINED_UNTIL_TAG]));
  const cmp = comparePaired(fresh.labels, predict(challenger, fresh.rows), predict(production, fresh.rows));
  const decided = {
    ...base,
    candidate: cmp.challengerAccuracy,
    production: cmp.championAccuracy,
    productionVersion: current.version,
    pValue: cmp.pValue,
    windows: cmp.n,
    challengerOnly: cmp.challengerOnly,
    championOnly: cmp.championOnly,
  };
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  if (cmp.n < options.minWindows)
    return {
      ...decided,
      promote: false,
      reason: `only ${cmp.n} validation windows unseen by production v${current.version} (need ${options.minWindows})`,
    };
  const promote = cmp.challengerOnly > cmp.championOnly && cmp.pValue < options.alpha;
  return {
    ...decided,
    promote,
    reason:
      `accuracy ${pct(cmp.challengerAccuracy)} vs production v${current.version} ${pct(cmp.championAccuracy)} ` +
      `on ${cmp.n} windows (${cmp.challengerOnly} vs ${cmp.championOnly} discordant, McNemar p = ${formatP(cmp.pValue)}): ` +
      `${promote ? 'beats' : 'does not beat'} production v${current.version} at alpha ${options.alpha}`,
  };
}

function formatP(p: number): string {
  return p < 1e-4 ? p.toExponential(1) : p.toFixed(4);
}
