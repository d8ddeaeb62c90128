/**
 * bench:robustness's pieces: the test phones' readings in each form, through the featurizer consumer as it
 * runs (replay → in-memory producer → FeaturizerProcessor), and a form's windows scored and paired with
 * the raw form's.
 */
import { FeaturizerProcessor } from '../consumers/featurizer/processor.ts';
import { type ReplayOptions, replay } from '../producers/replay/replay.ts';
import type { Recording } from '../src/data/hapt.ts';
import { BUTTERWORTH3_STATE, Butterworth3, vectorMedian3 } from '../src/features/dsp.ts';
import { FEATURE_NAMES, FEATURE_SET, Featurizer, referenceScale, standardize } from '../src/features/index.ts';
import { argmaxClasses, type Classifier, type Dataset } from '../src/model/index.ts';
import { mcnemarExact } from '../src/model/significance.ts';
import { decodeEvent } from '../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../src/schemas/registry.ts';
import type { FeatureVector } from '../src/schemas/types.gen.ts';
import { TOPICS } from '../src/topics.ts';
import type { ConsumedRecord, OutgoingRecord } from '../src/transport/types.ts';

/** Epoch ms of every replayed phone's first sample. */
export const START = 1_700_000_000_000;

/** Labelled windows of each recording featurized on its own, as bench:train builds them. */
export function windows(recordings: Recording[]): Dataset {
  const rows: Float64Array[] = [];
  const labels: string[] = [];
  for (const r of recordings) {
    for (const w of new Featurizer().push(r.samples, r.labels)) {
      if (w.label === null) continue;
      rows.push(w.features);
      labels.push(w.label);
    }
  }
  return { featureSet: FEATURE_SET, featureNames: FEATURE_NAMES, rows, labels };
}

/**
 * The recording as a phone whose own stack already ran the featurizer's conditioning sends it: per
 * sensor, the vector median of each sample and the two before it (the first repeated at the start, as
 * the featurizer does), then a 3rd-order 20 Hz Butterworth per channel started settled on the first value.
 */
export function conditioned(r: Recording): Recording {
  const raw = r.samples;
  const n = raw.length / 6;
  const out = new Float64Array(raw.length);
  const filter = new Butterworth3(20, 50);
  const state = new Float64Array(6 * BUTTERWORTH3_STATE);
  for (let i = 0; i < n; i++) {
    const a0 = Math.max(0, i - 2) * 6;
    const a1 = Math.max(0, i - 1) * 6;
    const a2 = i * 6;
    for (let s = 0; s < 6; s += 3) {
      const pick = vectorMedian3(raw, a0 + s, a1 + s, a2 + s);
      const from = (pick === 0 ? a0 : pick === 1 ? a1 : a2) + s;
      for (let c = 0; c < 3; c++) {
        const at = (s + c) * BUTTERWORTH3_STATE;
        if (i === 0) filter.steadyState(raw[from + c], state, at);
        out[a2 + s + c] = filter.step(raw[from + c], state, at);
      }
    }
  }
  return { ...r, samples: out };
}

/** Records as a consumer gets them from partition 0 of `topic`, offsets from `offset` on. */
export function consumed(records: OutgoingRecord[], topic: string, offset: number): ConsumedRecord[] {
  return records.map((r, i) => ({
    topic,
    partition: 0,
    offset: offset + i,
    key: r.key,
    value: r.value,
    headers: r.headers ?? {},
    timestamp: 0,
  }));
}

/** What the replay sends for `recordings` in form `options`, every publish collected. */
export async function sent(
  recordings: Recording[],
  options: Omit<ReplayOptions, 'recordings'>,
): Promise<{ records: ConsumedRecord[]; rows50: number }> {
  const out: OutgoingRecord[] = [];
  const stats = await replay(
    { publish: async (records) => void out.push(...records), close: async () => {} },
    { recordings, startTime: START, ...options },
  );
  return { records: consumed(out, TOPICS.sensorReadings, 0), rows50: stats.samples };
}

/**
 * The feature-vector records of the featurizer consumer for what the replay sends, each publish
 * processed as it comes (a consumer's batch), so only the vectors are held.
 */
export async function featurized(
  recordings: Recording[],
  options: Omit<ReplayOptions, 'recordings'>,
): Promise<{ features: OutgoingRecord[]; deadLetters: number }> {
  const processor = new FeaturizerProcessor();
  const features: OutgoingRecord[] = [];
  let deadLetters = 0;
  let offset = 0;
  const publish = async (records: OutgoingRecord[]) => {
    const batch = consumed(records, TOPICS.sensorReadings, offset);
    offset += records.length;
    for (const r of processor.process({
      topic: TOPICS.sensorReadings,
      partition: 0,
      records: batch,
      highWatermark: offset,
    }))
      if (r.topic === TOPICS.features) features.push(r);
      else deadLetters++;
  };
  await replay({ publish, close: async () => {} }, { recordings, startTime: START, ...options });
  return { features, deadLetters };
}

export function vectorsOf(features: OutgoingRecord[]): FeatureVector[] {
  return features.map((r) => decodeEvent(r.headers ?? {}, r.value, { accept: [EVENT_TYPES.featureVector] }).data);
}

export interface Scored {
  accuracy: number;
  windows: number;
  /** Per true activity: its windows the model got right / its windows. */
  recall: Record<string, number>;
  /** Windows per `truth → predicted` pair, wrong ones only. */
  mistakes: Map<string, number>;
  /** Per window (device and window index), whether the model was right, and its features in reference σ. */
  byWindow: Map<string, { right: boolean; z: Float64Array }>;
}

/** Correct / labelled over the windows with a single basic-activity label (the featurizer's `label`). */
export function score(model: Classifier, vectors: FeatureVector[]): Scored {
  const labelled = vectors.filter((v) => v.label !== null);
  const predicted = argmaxClasses(model.classes, model.predictProba(labelled.map((v) => v.values)));
  const scale = referenceScale(null);
  const byWindow = new Map<string, { right: boolean; z: Float64Array }>();
  let correct = 0;
  const seen: Record<string, [number, number]> = {};
  const mistakes = new Map<string, number>();
  labelled.forEach((v, i) => {
    const right = predicted[i] === v.label;
    if (right) correct++;
    const tally = (seen[v.label as string] ??= [0, 0]);
    tally[0] += right ? 1 : 0;
    tally[1]++;
    if (!right) mistakes.set(`${v.label} → ${predicted[i]}`, (mistakes.get(`${v.label} → ${predicted[i]}`) ?? 0) + 1);
    // Windows start every 1.28 s of stream; a timed stream's grid starts a few ms after the first reading.
    const key = `${v.device}:${Math.round((v.window.start - START) / 1280)}`;
    byWindow.set(key, { right, z: standardize(v.values, scale, new Float64Array(v.values.length)) });
  });
  const recall = Object.fromEntries(Object.entries(seen).map(([a, [r, n]]) => [a, r / n]));
  return { accuracy: correct / labelled.length, windows: labelled.length, recall, mistakes, byWindow };
}

/**
 * The same windows under `form` and `raw`: those `raw` got right and `form` wrong (lost) and the other way
 * (gained), the two-sided exact McNemar p-value, and the mean |Δ| of the features in reference σ.
 */
export function paired(form: Scored, raw: Scored) {
  let lost = 0;
  let gained = 0;
  let shift = 0;
  let matched = 0;
  for (const [key, f] of form.byWindow) {
    const r = raw.byWindow.get(key);
    if (!r) continue;
    matched++;
    if (r.right && !f.right) lost++;
    if (f.right && !r.right) gained++;
    let d = 0;
    for (let k = 0; k < f.z.length; k++) d += Math.abs(f.z[k] - r.z[k]);
    shift += d / f.z.length;
  }
  const p = Math.min(1, 2 * mcnemarExact(Math.max(lost, gained), Math.min(lost, gained)));
  return { lost, gained, p, shift: shift / matched, matched };
}
