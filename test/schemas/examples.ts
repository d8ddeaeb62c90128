import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { EventDataMap, EventType } from '../../src/schemas/registry.ts';
import type { SensorReadings } from '../../src/schemas/types.gen.ts';

const SAMPLE = path.resolve(import.meta.dirname, '../../data/sample/hapt-raw-train.csv.gz');

/**
 * One second of real readings: the first 50 samples of user 1 where the
 * labelled WALKING stretch ends, so the labels change (and some are null) —
 * values as HAPT recorded them (acc in g, gyro in rad/s).
 */
export function realReadings(count = 50): SensorReadings {
  const lines = gunzipSync(readFileSync(SAMPLE)).toString('utf8').split('\n');
  let end = lines.findIndex(
    (l, i) => i > 1 && l.split(',')[3] === 'WALKING' && lines[i + 1]?.split(',')[3] !== 'WALKING',
  );
  end = Math.max(end, count);
  const rows = lines.slice(end - count + 10, end + 10).map((l) => l.split(','));
  return {
    device: `user-${rows[0][0].padStart(2, '0')}`,
    timestamp: 1_700_000_000_000 + (Number(rows[0][2]) - 1) * 20,
    sampleRate: 50,
    sequence: Number(rows[0][2]) - 1,
    samples: rows.map((r) => r.slice(4, 10).map(Number)) as SensorReadings['samples'],
    labels: rows.map((r) => r[3] || null),
  };
}

const SHA = `sha256:${'3f'.repeat(32)}`;

/** A realistic message of every type, the way the components write them. */
export const EXAMPLES: { [K in EventType]: EventDataMap[K] } = {
  'dev.activity-tracking.sensor-readings.v1': realReadings(),
  // An Android-style accelerometer event batch: 100 Hz, its own jittered nanosecond clock in ms.
  'dev.activity-tracking.sensor-readings.v2': {
    device: 'user-01',
    sensor: 'acc',
    timestamps: [1_700_000_000_000.125, 1_700_000_000_010.3, 1_700_000_000_019.9, 1_700_000_000_030.05],
    samples: [
      [0.91, -0.12, 0.31],
      [0.92, -0.11, 0.3],
      [0.9, -0.13, 0.32],
      [0.91, -0.12, 0.31],
    ],
    labels: ['WALKING', 'WALKING', 'WALKING', 'WALKING'],
  },
  'dev.activity-tracking.device-calibration.v1': {
    device: 'user-01',
    id: 'user-01:drift:drift-events:0:12:0',
    rotation: [Math.SQRT1_2, Math.SQRT1_2, 0, -Math.SQRT1_2, Math.SQRT1_2, 0, 0, 0, 1],
    offset: [0, 0, 0],
    model: 'rotation',
    fit: { residual: 0.0004, identityResidual: 0.31, degrees: 45, offsetNorm: 0, activities: ['STANDING', 'WALKING'] },
    trigger: 'drift:drift-events:0:12',
  },
  'dev.activity-tracking.feature-vector.v1': {
    device: 'user-01',
    featureSet: 'har-v2-218',
    values: [0.0123, -0.98, 1.5e-3, 42],
    window: { start: 1_700_000_149_900, end: 1_700_000_152_440, firstSample: 7495, lastSample: 7622 },
    source: { topic: 'sensor-readings', partition: 3, firstOffset: 149, lastOffset: 152 },
    label: 'WALKING',
    predicted: null,
  },
  'dev.activity-tracking.drift.v1': {
    kind: 'data',
    device: 'user-01',
    activity: 'WALKING',
    feature: 'tBodyAcc-mean-X',
    featureIndex: 0,
    detector: { name: 'adwin', delta: 0.002 },
    widthBefore: 96,
    widthAfter: 32,
    meanBefore: 0.27,
    meanAfter: 0.41,
    detectedAt: { topic: 'features', partition: 3, offset: 1187 },
    window: { topic: 'features', partition: 3, fromOffset: 1156, toOffset: 1187 },
    confirmedBy: 5,
    time: 1_700_000_400_000,
  },
  'dev.activity-tracking.model.v1': {
    event: 'promoted',
    model: 'activity-knn',
    version: 4,
    runId: 'run-7c1e',
    scores: { metric: 'macro-f1', candidate: 0.91, production: 0.84, margin: 0.01 },
    lineage: {
      topic: 'features',
      ranges: [
        { partition: 0, fromOffset: 0, toOffset: 5120, records: 4800 },
        { partition: 3, fromOffset: 1156, toOffset: 1187, records: 32 },
      ],
      records: 4832,
      digest: SHA,
    },
    artifactDigest: `sha256:${'a0'.repeat(32)}`,
    reason: null,
    trigger: ['features:3:1187:0'],
  },
  'dev.activity-tracking.deployment.v1': {
    event: 'succeeded',
    model: 'activity-knn',
    version: 4,
    target: 'local',
    endpoint: 'http://127.0.0.1:8081/score',
    previousVersion: 3,
    reason: null,
  },
  'dev.activity-tracking.prediction.v1': {
    device: 'user-01',
    window: { start: 1_700_000_149_900, end: 1_700_000_152_440 },
    activity: 'WALKING',
    probabilities: { WALKING: 0.8, WALKING_UPSTAIRS: 0.2 },
    model: 'activity-knn',
    version: 4,
    latencyMs: 0.42,
    label: 'WALKING',
    source: { topic: 'features', partition: 3, offset: 1187 },
  },
  'dev.activity-tracking.dead-letter.v1': {
    component: 'featurizer',
    group: 'activity-tracking.featurizer',
    reason: 'not-json',
    message: 'value is not JSON: Unexpected end of JSON input',
    time: '2026-11-22T12:00:00.000Z',
    original: {
      topic: 'sensor-readings',
      partition: 3,
      offset: 17,
      key: 'user-01',
      headers: { ce_type: 'dev.activity-tracking.sensor-readings.v1' },
      value: Buffer.from('{"device": "x", ').toString('base64'),
    },
  },
};
