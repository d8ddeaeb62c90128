import { isUnseen, type TrainedUntil } from '../model/trained-until.ts';
import type { Prediction } from '../schemas/types.gen.ts';

/** Accuracy over labelled windows; null when there were none. */
export interface LiveAccuracy {
  windows: number;
  accuracy: number | null;
}

export const liveAccuracy = (hits: number, windows: number): LiveAccuracy => ({
  windows,
  accuracy: windows > 0 ? hits / windows : null,
});

/** A version's training horizon by version number; null where unknown (every window counts). */
export type TrainedUntilByVersion = ReadonlyMap<number, TrainedUntil | null>;

/**
 * True when the prediction is live evidence for its version: labelled, and
 * made on a window the version never trained on. A window predicted by a
 * version that trained on it says how well the version memorized, not how it
 * does on what phones send next (docs/retraining.md).
 */
export function isLiveEvidence(
  p: Prediction,
  trainedUntil: TrainedUntilByVersion,
): p is Prediction & { label: string } {
  if (p.label === null || p.label === undefined) return false;
  const first = p.window.firstSample;
  if (first === undefined) return !trainedUntil.get(p.version);
  return isUnseen(trainedUntil.get(p.version) ?? null, p.device, first);
}

/**
 * Each version's live accuracy over its first `firstN` labelled windows that
 * it never trained on, in stream order: the figure set next to the gate's
 * estimate for the same version.
 */
export function liveAccuracyByVersion(
  predictions: readonly Prediction[],
  trainedUntil: TrainedUntilByVersion,
  firstN: number,
): Map<number, LiveAccuracy> {
  const counts = new Map<number, [hits: number, n: number]>();
  const ordered = [...predictions].sort((a, b) => a.window.start - b.window.start);
  for (const p of ordered) {
    if (!isLiveEvidence(p, trainedUntil)) continue;
    const c = counts.get(p.version) ?? [0, 0];
    if (c[1] >= firstN) continue;
    c[0] += p.activity === p.label ? 1 : 0;
    c[1]++;
    counts.set(p.version, c);
  }
  return new Map([...counts].map(([v, [hits, n]]) => [v, liveAccuracy(hits, n)]));
}
