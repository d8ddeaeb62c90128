import { InvalidOptionError } from '../../src/errors.ts';

export interface RetrainerOptions {
  /** Registered model name. @defaultValue 'activity-classifier' */
  model?: string;
  /** Tracking experiment of the retraining runs. @defaultValue 'activity-retraining' */
  experiment?: string;
  /**
   * A burst is closed once no drift event came for this long. The detector confirms a change within
   * 16 vectors of one (device, activity), so a burst's events come within a second or two; later ones
   * fold into the episode (docs/retraining.md). @defaultValue 2000
   */
  quietMs?: number;
  /**
   * ... or once this long passed since its first event, whatever keeps coming: with training at about
   * 2 s, drift to promoted stays within 10 s. @defaultValue 8000
   */
  maxWaitMs?: number;
  /** How often an open burst looks for more drift events in the log (and follow-ups for growth). @defaultValue 250 */
  pollMs?: number;
  /** Fewer labelled post-drift vectors than this: no retraining (logged as a failed run). @defaultValue 60 */
  minPostDrift?: number;
  /** Labelled vectors from before the drift added as a reference sample, at most. @defaultValue 3000 */
  referenceSize?: number;
  /** Share of each device's latest windows held out for validation (and the gate). @defaultValue 0.25 */
  validationFraction?: number;
  /** How the best candidate is picked on the validation data (higher is better). @defaultValue 'macroF1' */
  metric?: 'accuracy' | 'macroF1';
  /** The gate's significance level: a challenger is promoted when McNemar's one-sided p-value is below it. @defaultValue 0.05 */
  alpha?: number;
  /**
   * The gate refuses to promote on fewer post-drift validation windows unseen by both models: a first
   * retraining on a few windows of one or two activities looked good on the next few and then did worse
   * live than the model it replaced (38.7 % vs 54 %, npm start, rotation:z:45). @defaultValue 40
   */
  minGateWindows?: number;
  /**
   * After a drift retraining, retrain again each time the drifted devices' post-drift
   * records have grown by this factor (docs/retraining.md). @defaultValue 1.5
   */
  growthFactor?: number;
  /**
   * ... or by this many records, whichever comes first: with a late first retraining, growth by a
   * factor alone came too rarely to follow the phones' later activities. @defaultValue 300
   */
  maxGrowthStep?: number;
  /** Follow-up retrainings per drift, at most (0 turns them off). @defaultValue 10 */
  followUps?: number;
  /**
   * Post-drift windows each activity of the training data needs before a drift retraining trains
   * (docs/retraining.md: a drift seen in only some activities misleads the model on the others). @defaultValue 3
   */
  minClassWindows?: number;
  /**
   * Fit and publish per-device calibrations after a drift, before retraining (docs/calibration.md).
   * @defaultValue true
   */
  calibrate?: boolean;
  /** Smallest rotation worth a calibration, in degrees (sessions differ by 10-35° with no drift). @defaultValue 20 */
  calibrationMinDegrees?: number;
  /** Smallest accelerometer offset worth a calibration, in g. @defaultValue 0.1 */
  calibrationMinOffset?: number;
  /** Labelled windows an activity needs before and after the drift to take part in a fit. @defaultValue 3 */
  calibrationMinWindows?: number;
  /** Records before the drift read back for the devices' reference means. @defaultValue 20000 */
  calibrationLookback?: number;
  /**
   * Between retrainings, calibrations are fitted again each time the episode's post-drift records
   * have grown by this many (a few windows per phone): they follow the phones into new activities
   * faster than retraining's growth steps. @defaultValue 60
   */
  calibrationStep?: number;
}

export type ResolvedRetrainerOptions = Required<RetrainerOptions>;

export const RETRAINER_DEFAULTS: ResolvedRetrainerOptions = {
  model: 'activity-classifier',
  experiment: 'activity-retraining',
  quietMs: 2000,
  maxWaitMs: 8000,
  pollMs: 250,
  minPostDrift: 60,
  referenceSize: 3000,
  validationFraction: 0.25,
  metric: 'macroF1',
  alpha: 0.05,
  minGateWindows: 40,
  growthFactor: 1.5,
  maxGrowthStep: 300,
  followUps: 10,
  minClassWindows: 3,
  calibrate: true,
  calibrationMinDegrees: 20,
  calibrationMinOffset: 0.1,
  calibrationMinWindows: 3,
  calibrationLookback: 20_000,
  calibrationStep: 60,
};

/** Fills the defaults and refuses combinations that cannot work, saying how to fix them. */
export function resolveRetrainerOptions(options: RetrainerOptions = {}): ResolvedRetrainerOptions {
  const o = { ...RETRAINER_DEFAULTS, ...stripUndefined(options) };
  for (const key of [
    'quietMs',
    'maxWaitMs',
    'pollMs',
    'minPostDrift',
    'referenceSize',
    'minGateWindows',
    'followUps',
    'calibrationMinDegrees',
    'calibrationMinOffset',
    'calibrationMinWindows',
    'calibrationLookback',
    'calibrationStep',
  ] as const) {
    if (!Number.isFinite(o[key]) || o[key] < 0)
      throw new InvalidOptionError(`retrainer ${key} must be >= 0, got ${o[key]}`);
  }
  if (o.maxWaitMs < o.quietMs)
    throw new InvalidOptionError(`retrainer maxWaitMs (${o.maxWaitMs}) must be >= quietMs (${o.quietMs})`);
  if (o.pollMs === 0 || (o.pollMs > o.quietMs && o.quietMs > 0))
    throw new InvalidOptionError(`retrainer pollMs (${o.pollMs}) must be > 0 and <= quietMs (${o.quietMs})`);
  if (!(o.validationFraction > 0 && o.validationFraction < 1))
    throw new InvalidOptionError(`retrainer validationFraction must be in (0, 1), got ${o.validationFraction}`);
  if (!(o.alpha > 0 && o.alpha < 1)) throw new InvalidOptionError(`retrainer alpha must be in (0, 1), got ${o.alpha}`);
  if (!(o.growthFactor > 1)) throw new InvalidOptionError(`retrainer growthFactor must be > 1, got ${o.growthFactor}`);
  if (!/^[A-Za-z0-9][\w.-]{0,127}$/.test(o.model))
    throw new InvalidOptionError(`retrainer model name "${o.model}" must be 1-128 letters, digits, '.', '_' or '-'`);
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
