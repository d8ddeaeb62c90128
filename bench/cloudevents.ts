/**
 * Encode/decode throughput of one 50-sample sensor-readings event (a phone's
 * second), JSON and readings+binary, for a real HAPT second (values printed
 * with 5 significant digits) and for the same second at full double precision
 * (what JSON.stringify prints for a phone's raw doubles). Then one 218-value
 * feature vector, JSON and feature-vector+binary.
 * Run: npm run bench:schemas. For information only; no test asserts on speed.
 */
import { loadRecordings } from '../src/data/hapt.ts';
import { FEATURE_SET, Featurizer } from '../src/features/index.ts';
import {
  decodeEvent,
  encodeEvent,
  FEATURE_VECTOR_BINARY_CONTENT_TYPE,
  READINGS_BINARY_CONTENT_TYPE,
} from '../src/schemas/cloudevents.ts';
import { decodeFeatureVectorBinary } from '../src/schemas/feature-vector-binary.ts';
import { EVENT_TYPES } from '../src/schemas/registry.ts';
import type { FeatureVector, SensorReadings } from '../src/schemas/types.gen.ts';

const recording = loadRecordings('train', 'sample')[0];
const from = recording.labels.indexOf('WALKING');
const rows = Array.from({ length: 50 }, (_, i) =>
  Array.from(recording.samples.subarray((from + i) * 6, (from + i) * 6 + 6)),
);
const real: SensorReadings = {
  device: `user-${recording.user}`,
  timestamp: 1_700_000_000_000,
  sampleRate: 50,
  sequence: from,
  samples: rows as SensorReadings['samples'],
  labels: recording.labels.slice(from, from + 50),
};
// Deterministic noise below the 5th digit turns each value into a 16-17 digit double.
let seed = 42;
const noise = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 1e-6;
const precise: SensorReadings = {
  ...real,
  samples: rows.map((r) => r.map((v) => v + noise())) as SensorReadings['samples'],
};

const accept = [EVENT_TYPES.sensorReadings] as const;
const time = new Date(real.timestamp).toISOString();
const base = { type: EVENT_TYPES.sensorReadings, source: 'bench', subject: real.device, id: 'x', time } as const;

function measure(name: string, fn: () => void, seconds = 1.5): void {
  for (let i = 0; i < 3000; i++) fn();
  let n = 0;
  const start = performance.now();
  const until = start + seconds * 1000;
  while (performance.now() < until) {
    for (let i = 0; i < 500; i++) fn();
    n += 500;
  }
  const perSecond = n / ((performance.now() - start) / 1000);
  const rate = Math.round(perSecond).toLocaleString('en').padStart(9);
  console.log(`  ${name.padEnd(34)} ${rate} msg/s ${(1e6 / perSecond).toFixed(1).padStart(6)} µs/msg`);
}

for (const [label, data] of [
  ['real HAPT second (5-digit values)', real],
  ['same second at full double precision', precise],
] as const) {
  const json = encodeEvent({ ...base, data });
  const binary = encodeEvent({ ...base, data, contentType: READINGS_BINARY_CONTENT_TYPE });
  console.log(`${label}: JSON ${json.value.length} B, readings+binary (float32) ${binary.value.length} B`);
  measure('encode JSON (validated)', () => encodeEvent({ ...base, data }));
  measure('encode JSON (validate: false)', () => encodeEvent({ ...base, data, validate: false }));
  measure('encode binary (validated)', () => encodeEvent({ ...base, data, contentType: READINGS_BINARY_CONTENT_TYPE }));
  measure('decode JSON (all checks)', () => decodeEvent(json.headers, json.value, { accept }));
  measure('decode binary (all checks)', () => decodeEvent(binary.headers, binary.value, { accept }));
  measure('  JSON.parse(utf8) alone', () => JSON.parse(json.value.toString('utf8')));
}

// One feature vector as the featurizer emits it: 218 values of a real HAPT window, full doubles.
const window = new Featurizer({ sampleRateHz: 50 }).push(
  recording.samples.subarray(from * 6, (from + 128) * 6),
  recording.labels.slice(from, from + 128),
)[0];
const vector: FeatureVector = {
  device: real.device,
  featureSet: FEATURE_SET,
  values: Array.from(window.features) as FeatureVector['values'],
  window: { start: real.timestamp, end: real.timestamp + 2540, firstSample: from, lastSample: from + 127 },
  source: { topic: 'sensor-readings', partition: 0, firstOffset: 41, lastOffset: 43 },
  label: window.label,
};
const vectorBase = { type: EVENT_TYPES.featureVector, source: 'bench', subject: real.device, id: 'x', time } as const;
const vectorAccept = [EVENT_TYPES.featureVector] as const;
const vectorBinary = { ...vectorBase, data: vector, contentType: FEATURE_VECTOR_BINARY_CONTENT_TYPE } as const;
const vjson = encodeEvent({ ...vectorBase, data: vector });
const vbin = encodeEvent(vectorBinary);
console.log(
  `feature vector (${vector.values.length} float64 values): JSON ${vjson.value.length} B, feature-vector+binary ${vbin.value.length} B`,
);
measure('encode JSON (validated)', () => encodeEvent({ ...vectorBase, data: vector }));
measure('encode binary (validated)', () => encodeEvent(vectorBinary));
measure('decode JSON (all checks)', () => decodeEvent(vjson.headers, vjson.value, { accept: vectorAccept }));
measure('decode binary (all checks)', () => decodeEvent(vbin.headers, vbin.value, { accept: vectorAccept }));
measure('  binary body alone, no schema', () => decodeFeatureVectorBinary(vbin.value));
