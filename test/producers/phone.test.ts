import { describe, expect, it } from 'vitest';
import { FeaturizerProcessor } from '../../consumers/featurizer/processor.ts';
import type { PhoneForm } from '../../producers/replay/phone.ts';
import { replay } from '../../producers/replay/replay.ts';
import { loadRecordings } from '../../src/data/hapt.ts';
import { referenceScale, standardize } from '../../src/features/index.ts';
import { PipelineMetrics } from '../../src/metrics/metrics.ts';
import { decodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { FeatureVector } from '../../src/schemas/types.gen.ts';
import { TOPICS } from '../../src/topics.ts';
import type { OutgoingRecord } from '../../src/transport/types.ts';
import { asConsumed } from '../support/readings.ts';

// One user's first recording, about a minute of it.
const recording = { ...loadRecordings('test', 'sample')[0] };
recording.samples = recording.samples.subarray(0, 3000 * 6);
recording.labels = recording.labels.slice(0, 3000);

/** What the replay sends for that phone, in form `phone`, and the featurizer's vectors of it. */
async function featurized(phone?: PhoneForm, metrics?: PipelineMetrics) {
  const sent: OutgoingRecord[] = [];
  await replay(
    { publish: async (records) => void sent.push(...records), close: async () => {} },
    { recordings: [recording], startTime: 1_700_000_000_000, ...(phone ? { phone } : {}) },
  );
  const out = new FeaturizerProcessor(metrics ? { metrics } : {}).process({
    topic: TOPICS.sensorReadings,
    partition: 0,
    records: asConsumed(sent, TOPICS.sensorReadings),
    highWatermark: sent.length,
  });
  const types = sent.map((r) => r.headers!.ce_type);
  const letters = out.filter((r) => r.topic === TOPICS.deadLetter);
  const vectors = out
    .filter((r) => r.topic === TOPICS.features)
    .map((r) => decodeEvent(r.headers ?? {}, r.value, { accept: [EVENT_TYPES.featureVector] }).data as FeatureVector);
  return { types, letters, vectors, sent };
}

/** Mean absolute difference of two windows' features, in standard deviations of each feature. */
function distance(a: FeatureVector, b: FeatureVector): number {
  const scale = referenceScale(null);
  const za = standardize(a.values, scale, new Float64Array(a.values.length));
  const zb = standardize(b.values, scale, new Float64Array(b.values.length));
  return za.reduce((s, x, k) => s + Math.abs(x - zb[k]), 0) / za.length;
}

describe('replayed phones of other kinds (timed readings v2)', () => {
  it('100, 200 and 400 Hz with ±2 ms jitter and split sensors: readable, and featurized close to the 50 Hz windows', async () => {
    const v1 = await featurized();
    expect(new Set(v1.types)).toEqual(new Set([EVENT_TYPES.sensorReadings]));
    for (const rate of [100, 200, 400]) {
      const got = await featurized({ rate, jitterMs: 2, splitSensors: true });
      expect(new Set(got.types)).toEqual(new Set([EVENT_TYPES.sensorReadingsV2]));
      expect(got.letters).toEqual([]);
      // The resampler waits 100 ms for stragglers: the windows the stream's last moments complete come later.
      expect(got.vectors.length).toBeGreaterThanOrEqual(v1.vectors.length - 2);
      const d = got.vectors.map((v, k) => distance(v, v1.vectors[k]));
      // Measured: a mean of 0.02-0.04 standard deviations per feature; the labels are the same windows'.
      expect(d.reduce((a, b) => a + b, 0) / d.length, `${rate} Hz`).toBeLessThan(0.1);
      expect(got.vectors.map((v) => v.label)).toEqual(v1.vectors.slice(0, got.vectors.length).map((v) => v.label));
    }
  });

  it('gaps while the app is in the background end windows and are counted', async () => {
    const metrics = new PipelineMetrics();
    const got = await featurized({ rate: 100, gapMs: 500, gapEverySeconds: 20 }, metrics);
    expect(got.letters).toEqual([]);
    const counted = Object.fromEntries(
      (await metrics.irregularReadings.get()).values.map((v) => [v.labels.kind, v.value]),
    );
    // A minute of stream, a silence every 20 s: two of them inside it.
    expect(counted.gap).toBe(2);
    for (const v of got.vectors) {
      const start = (v.window.start - 1_700_000_000_000) % 20_000;
      const end = (v.window.end - 1_700_000_000_000) % 20_000;
      // No window spans a silence (the last 500 ms of every 20 s).
      expect(start <= end && end < 19_500, JSON.stringify(v.window)).toBe(true);
    }
  });

  it('refuses a form that cannot be sent, saying why', async () => {
    await expect(featurized({ rate: 50, jitterMs: 25 })).rejects.toThrow(/--jitter-ms must be between 0 and 20 ms/);
    await expect(featurized({ rate: 0.5 })).rejects.toThrow(/--rate must be between 1 and 1000 Hz/);
  });
});
