import { describe, expect, it } from 'vitest';
import { FeaturizerProcessor } from '../../consumers/featurizer/processor.ts';
import { ReadingsProducer } from '../../producers/readings-producer.ts';
import { loadRecordings } from '../../src/data/hapt.ts';
import { referenceScale, standardize } from '../../src/features/index.ts';
import { PipelineMetrics } from '../../src/metrics/metrics.ts';
import { decodeEvent, encodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { FeatureVector, SensorReadingsV2 } from '../../src/schemas/types.gen.ts';
import { TOPICS } from '../../src/topics.ts';
import type { OutgoingRecord } from '../../src/transport/types.ts';
import { asConsumed } from '../support/readings.ts';

const recording = loadRecordings('test', 'sample')[0];
const N = 1200;
const T0 = 1_700_000_000_000;
const row = (i: number) => Array.from(recording.samples.subarray(i * 6, i * 6 + 6));
const label = (i: number) => recording.labels[i] ?? null;

function v2(data: SensorReadingsV2, validate = true): OutgoingRecord {
  const { headers, value } = encodeEvent({ type: EVENT_TYPES.sensorReadingsV2, source: 'test', data, validate });
  return { topic: TOPICS.sensorReadings, key: data.device, headers, value };
}

/** Samples `[from, to)` of the recording as v2 messages of `form`, at their 50 Hz times shifted by `time(i)`. */
function timed(
  device: string,
  form: 'both' | 'split',
  { chunk = 50, time = (i: number) => T0 + i * 20 }: { chunk?: number; time?: (i: number) => number } = {},
  indices: number[] = Array.from({ length: N }, (_, i) => i),
): OutgoingRecord[] {
  const out: OutgoingRecord[] = [];
  for (let c = 0; c < indices.length; c += chunk) {
    const part = indices.slice(c, c + chunk);
    const timestamps = part.map(time) as [number, ...number[]];
    const labels = part.map(label);
    if (form === 'both') out.push(v2({ device, sensor: 'both', timestamps, samples: part.map(row) as never, labels }));
    else {
      out.push(
        v2({ device, sensor: 'acc', timestamps, samples: part.map((i) => row(i).slice(0, 3)) as never, labels }),
      );
      out.push(v2({ device, sensor: 'gyro', timestamps, samples: part.map((i) => row(i).slice(3)) as never }));
    }
  }
  return out;
}

function vectors(records: OutgoingRecord[], processor = new FeaturizerProcessor()) {
  const out = processor.process({
    topic: TOPICS.sensorReadings,
    partition: 0,
    records: asConsumed(records, TOPICS.sensorReadings),
    highWatermark: records.length,
  });
  const decoded = (topic: string) =>
    out
      .filter((r) => r.topic === topic)
      .map((r) =>
        decodeEvent(r.headers ?? {}, r.value, { accept: [EVENT_TYPES.featureVector, EVENT_TYPES.deadLetter] }),
      );
  return {
    vectors: decoded(TOPICS.features).map((e) => e.data as FeatureVector),
    deadLetters: decoded(TOPICS.deadLetter).map((e) => e.data as unknown as { reason: string; message: string }),
  };
}

const values = (vs: FeatureVector[]) => vs.map((v) => v.values);

describe('featurizer: timed readings (sensor-readings v2)', () => {
  // The v1 stream the v2 forms are compared with: the same samples, 50 a message, in sequence.
  const producer = new ReadingsProducer({ publish: async () => {}, close: async () => {} });
  const v1: OutgoingRecord[] = [];
  for (let s = 0; s < N; s += 50)
    v1.push(
      producer.record(
        'phone',
        Array.from({ length: 50 }, (_, i) => row(s + i)),
        {
          timestamp: T0 + s * 20,
          labels: Array.from({ length: 50 }, (_, i) => label(s + i)),
        },
      ),
    );
  const reference = vectors(v1).vectors;

  it('50 Hz readings on the grid, aligned or split by sensor, give the v1 windows bit for bit', () => {
    // The resampler holds rows back for stragglers: the windows that end in the last 100 ms come later.
    expect(reference.length).toBe(Math.floor((N - 128) / 64) + 1);
    for (const form of ['both', 'split'] as const) {
      const got = vectors(timed('phone', form)).vectors;
      expect(got.length).toBeGreaterThanOrEqual(reference.length - 1);
      expect(values(got)).toEqual(values(reference.slice(0, got.length)));
      expect(got.map((v) => [v.window, v.label])).toEqual(
        reference.slice(0, got.length).map((v) => [v.window, v.label]),
      );
    }
  });

  it('start + rate is the same as the timestamps it stands for', () => {
    const messages: OutgoingRecord[] = [];
    for (let s = 0; s < N; s += 50) {
      const part = Array.from({ length: 50 }, (_, i) => s + i);
      messages.push(
        v2({
          device: 'phone',
          sensor: 'both',
          start: T0 + s * 20,
          rate: 50,
          samples: part.map(row) as never,
          labels: part.map(label),
        }),
      );
    }
    expect(values(vectors(messages).vectors)).toEqual(values(vectors(timed('phone', 'both')).vectors));
  });

  it('split sensors on jittered clocks give the windows of the aligned form (same times) bit for bit', () => {
    // Each sample's time off the grid by up to ±2 ms, as an Android phone stamps them.
    const jitter = (i: number) => T0 + i * 20 + 2 * Math.sin(i * 1.7);
    const aligned = vectors(timed('phone', 'both', { time: jitter })).vectors;
    expect(aligned.length).toBeGreaterThan(10);
    expect(values(vectors(timed('phone', 'split', { time: jitter })).vectors)).toEqual(values(aligned));
    // And close to the on-grid windows: the resampler moved each value by a fraction of a sample. Measured in
    // standard deviations of each feature across the training data (src/features/reference-scale.json):
    // measured 0.055 at the worst window on this recording, the high bands and jerks moving most.
    const scale = referenceScale(null);
    const z = (v: number[]) => standardize(v, scale, new Float64Array(v.length));
    for (let k = 0; k < aligned.length; k++) {
      const [a, b] = [z(aligned[k].values), z(reference[k].values)];
      expect(a.reduce((s, x, f) => s + Math.abs(x - b[f]), 0) / a.length).toBeLessThan(0.1);
    }
  });

  it('messages out of order within the tolerance are put right; samples later than that are counted and left out', async () => {
    const inOrder = timed('phone', 'split', { chunk: 2 });
    const swapped = [...inOrder];
    // Acc and gyro messages of neighbouring 40 ms stretches swapped: well within the 100 ms tolerance.
    for (let k = 0; k + 3 < swapped.length; k += 8) [swapped[k], swapped[k + 2]] = [swapped[k + 2], swapped[k]];
    expect(values(vectors(swapped).vectors)).toEqual(values(vectors(inOrder).vectors));

    const metrics = new PipelineMetrics();
    const late = [...inOrder.slice(0, 400), inOrder[100], ...inOrder.slice(400)];
    const got = vectors(late, new FeaturizerProcessor({ metrics }));
    expect(got.deadLetters).toEqual([]);
    expect(values(got.vectors)).toEqual(values(vectors(inOrder).vectors));
    const counted = Object.fromEntries(
      (await metrics.irregularReadings.get()).values.map((v) => [v.labels.kind, v.value]),
    );
    // The message sent again holds two samples (acc), both older than what the grid has taken.
    expect(counted).toEqual({ gap: 0, late: expect.any(Number), duplicate: expect.any(Number) });
    expect(counted.late + counted.duplicate).toBe(2);
  });

  it('a gap longer than the bound ends the window in progress: no window spans it, and it is counted', () => {
    // 300 ms of silence (15 samples never sent) after sample 600.
    const indices = Array.from({ length: N }, (_, i) => i).filter((i) => i < 600 || i >= 615);
    const metrics = new PipelineMetrics();
    const { vectors: got } = vectors(timed('phone', 'split', {}, indices), new FeaturizerProcessor({ metrics }));
    const gapStart = T0 + 600 * 20;
    const gapEnd = T0 + 615 * 20;
    for (const v of got)
      expect(v.window.end < gapStart || v.window.start >= gapEnd, JSON.stringify(v.window)).toBe(true);
    expect(got.some((v) => v.window.start >= gapEnd)).toBe(true);
    // Windows before the gap are the v1 windows; the first after it starts on the first sample after it.
    const before = got.filter((v) => v.window.end < gapStart);
    expect(values(before)).toEqual(values(reference.slice(0, before.length)));
    expect(got.find((v) => v.window.start >= gapEnd)!.window.start).toBe(gapEnd);
  });

  it('a message it cannot read is dead-lettered with its reason; the device goes on', () => {
    const good = timed('phone', 'split');
    const wrongWidth = v2(
      {
        device: 'phone',
        sensor: 'gyro',
        timestamps: [T0],
        samples: [[1, 2, 3, 4, 5, 6]] as never,
      },
      false,
    );
    const fewerTimes = v2(
      {
        device: 'phone',
        sensor: 'acc',
        timestamps: [T0, T0 + 20],
        samples: [
          [1, 2, 3],
          [1, 2, 3],
          [1, 2, 3],
        ] as never,
      },
      false,
    );
    const got = vectors([...good.slice(0, 10), wrongWidth, fewerTimes, ...good.slice(10)]);
    expect(got.deadLetters.map((d) => d.reason)).toEqual(['schema-violation', 'length-mismatch']);
    expect(got.deadLetters[0].message).toMatch(/samples\/0 has 6 values; gyro readings are rows of 3/);
    expect(values(got.vectors)).toEqual(values(vectors(good).vectors));
  });

  it('a checkpoint taken mid-stream restores the resampler: the rest comes out as if nothing stopped', () => {
    const all = timed('phone', 'split', { time: (i) => T0 + i * 20 + 2 * Math.sin(i) });
    const whole = vectors(all).vectors;
    const first = new FeaturizerProcessor();
    const a = vectors(all.slice(0, 21), first).vectors;
    const snapshots = first.takeCheckpoint(0);
    const second = new FeaturizerProcessor();
    second.restore(0, snapshots);
    const b = second.process({
      topic: TOPICS.sensorReadings,
      partition: 0,
      records: asConsumed(all, TOPICS.sensorReadings).slice(21),
      highWatermark: all.length,
    });
    const rest = b.map((r) => decodeEvent(r.headers ?? {}, r.value, { accept: [EVENT_TYPES.featureVector] }).data);
    expect(values([...a, ...(rest as FeatureVector[])])).toEqual(values(whole));
  });
});
