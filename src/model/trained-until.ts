/**
 * What a model version never trained on. Windows of one device are numbered
 * by sample (`firstSample`..`lastSample`, the featurizer's count for that
 * device), so "this version trained on device d up to sample s" tells, for
 * any later window, whether the version has seen any of its samples. The gate
 * compares models only on windows neither has seen, and live accuracy counts
 * only such windows (docs/retraining.md).
 */
export type TrainedUntil = Record<string, number>;

/** Version tag holding the model's `TrainedUntil` as JSON. */
export const TRAINED_UNTIL_TAG = 'activity-tracking.trained-until';

/** True when no sample of the window was in the model's training data. */
export function isUnseen(until: TrainedUntil | null, device: string, firstSample: number): boolean {
  return until === null || firstSample > (until[device] ?? -1);
}

/** A version's tag; null (nothing known: every window counts) for versions made before the tag existed. */
export function parseTrainedUntil(tag: string | undefined): TrainedUntil | null {
  if (!tag) return null;
  try {
    const parsed = JSON.parse(tag) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
    const out: TrainedUntil = {};
    for (const [device, v] of Object.entries(parsed)) if (typeof v === 'number' && Number.isFinite(v)) out[device] = v;
    return out;
  } catch {
    return null;
  }
}
