import { describe, expect, it } from 'vitest';
import { DriftDetectorProcessor } from '../../consumers/drift-detector/processor.ts';
import { FeaturizerProcessor } from '../../consumers/featurizer/processor.ts';
import { ReadingsProducer } from '../../producers/readings-producer.ts';
import { calibrateSamples } from '../../src/calibration/affine.ts';
import { loadRecordings } from '../../src/data/hapt.ts';
import { Featurizer } from '../../src/features/index.ts';
import { decodeEvent, encodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { DeviceCalibration, FeatureVector } from '../../src/schemas/types.gen.ts';
import { TOPICS } from '../../src/topics.ts';
import type { OutgoingRecord } from '../../src/transport/types.ts';
import { asConsumed } from '../support/readings.ts';

const recording = loadRecordings('test', 'sample')[0];
const Z30 = [
  Math.cos(Math.PI / 6),
  -Math.sin(Math.PI / 6),
  0,
  Math.sin(Math.PI / 6),
  Math.cos(Math.PI / 6),
  0,
  0,
  0,
  1,
];

function calibration(id: string, rotation: number[], offset = [0, 0, 0]): OutgoingRecord {
  const data: DeviceCalibration = {
    device: 'phone-a',
    id,
    rotation: rotation as DeviceCalibration['rotation'],
    offset: offset as DeviceCalibration['offset'],
    model: 'rotation',
  };
  const { headers, value } = encodeEvent({ type: EVENT_TYPES.deviceCalibration, source: 'test', id, data });
  return { topic: TOPICS.sensorReadings, key: 'phone-a', headers, value };
}

const consumed = asConsumed;

/** 1,000 samples in messages of 50, with a calibration record after the 6th message (sample 300). */
function stream(cal: OutgoingRecord[]): OutgoingRecord[] {
  const producer = new ReadingsProducer({ publish: async () => {}, close: async () => {} });
  const out: OutgoingRecord[] = [];
  for (let s = 0; s < 1000; s += 50) {
    if (s === 300) out.push(...cal);
    const rows = Array.from({ length: 50 }, (_, i) =>
      Array.from(recording.samples.subarray((s + i) * 6, (s + i) * 6 + 6)),
    );
    out.push(producer.record('phone-a', rows, { timestamp: 1_000_000 + s * 20 }));
  }
  return out;
}

const vectors = (out: OutgoingRecord[]) =>
  out
    .filter((r) => r.topic === TOPICS.features)
    .map((r) => decodeEvent(r.headers ?? {}, r.value, { accept: [EVENT_TYPES.featureVector] }).data);

describe('device calibration in the featurizer and the detector', () => {
  it('applies in order with the readings: later windows are the calibrated signal, on the same grid, and say so', () => {
    const processor = new FeaturizerProcessor();
    const out = processor.process({
      topic: TOPICS.sensorReadings,
      partition: 0,
      records: consumed(stream([calibration('cal-1', Z30), calibration('cal-1', Z30)]), TOPICS.sensorReadings),
      highWatermark: 0,
    });
    const got = vectors(out);
    expect(out.filter((r) => r.topic === TOPICS.deadLetter)).toEqual([]);
    // What a featurizer fed calibrated samples from the start computes, from the first window after sample 300.
    const all = recording.samples.slice(0, 6000);
    calibrateSamples(all, { rotation: Z30, offset: [0, 0, 0] });
    const expected = new Featurizer().push(all);
    const after = got.filter((v) => v.window.lastSample >= 300);
    expect(after.length).toBeGreaterThan(5);
    for (const v of after) {
      expect(v.calibration?.id).toBe('cal-1');
      const e = expected.find((w) => w.firstSample === v.window.firstSample)!;
      for (let i = 0; i < v.values.length; i++) expect(v.values[i]).toBeCloseTo(e.features[i], 6);
    }
    for (const v of got.filter((v) => v.window.lastSample < 300)) expect(v.calibration).toBeUndefined();
  });

  it('dead-letters a calibration that is not a rotation, and the readings go on uncalibrated', () => {
    const processor = new FeaturizerProcessor();
    const out = processor.process({
      topic: TOPICS.sensorReadings,
      partition: 0,
      records: consumed(stream([calibration('bad', [2, 0, 0, 0, 1, 0, 0, 0, 1])]), TOPICS.sensorReadings),
      highWatermark: 0,
    });
    const dead = out.filter((r) => r.topic === TOPICS.deadLetter);
    expect(dead).toHaveLength(1);
    expect(decodeEvent(dead[0].headers ?? {}, dead[0].value, { accept: [EVENT_TYPES.deadLetter] }).data.reason).toBe(
      'invalid-calibration',
    );
    expect(vectors(out).every((v) => v.calibration === undefined)).toBe(true);
  });

  it('a checkpoint keeps the calibration: a restored featurizer continues calibrated', () => {
    const records = consumed(stream([calibration('cal-1', Z30)]), TOPICS.sensorReadings);
    const whole = vectors(
      new FeaturizerProcessor().process({ topic: TOPICS.sensorReadings, partition: 0, records, highWatermark: 0 }),
    );
    const a = new FeaturizerProcessor();
    const head = vectors(
      a.process({ topic: TOPICS.sensorReadings, partition: 0, records: records.slice(0, 10), highWatermark: 0 }),
    );
    const b = new FeaturizerProcessor();
    b.restore(0, a.takeCheckpoint(0));
    const tail = vectors(
      b.process({ topic: TOPICS.sensorReadings, partition: 0, records: records.slice(10), highWatermark: 0 }),
    );
    expect([...head, ...tail]).toEqual(whole);
  });

  it("the detector starts a device's windows again under a new calibration instead of reporting drift", () => {
    const featurized = new FeaturizerProcessor().process({
      topic: TOPICS.sensorReadings,
      partition: 0,
      records: consumed(stream([calibration('cal-1', Z30)]), TOPICS.sensorReadings),
      highWatermark: 0,
    });
    const features = featurized.filter((r) => r.topic === TOPICS.features);
    const labelled = features.map((r) => {
      const v: FeatureVector = decodeEvent(r.headers ?? {}, r.value, { accept: [EVENT_TYPES.featureVector] }).data;
      const { headers, value } = encodeEvent({
        type: EVENT_TYPES.featureVector,
        source: 'test',
        id: `${v.window.firstSample}`,
        data: { ...v, label: 'WALKING' },
      });
      return { ...r, headers, value };
    });
    const detector = new DriftDetectorProcessor();
    detector.process({
      topic: TOPICS.features,
      partition: 0,
      records: consumed(labelled, TOPICS.features),
      highWatermark: 0,
    });
    expect(detector.stats.recalibrated).toBe(1);
  });
});
