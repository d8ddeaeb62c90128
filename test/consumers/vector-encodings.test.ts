import { describe, expect, it } from 'vitest';
import { DriftDetectorProcessor } from '../../consumers/drift-detector/processor.ts';
import { FeaturizerProcessor } from '../../consumers/featurizer/processor.ts';
import { ReadingsProducer } from '../../producers/readings-producer.ts';
import { loadRecordings } from '../../src/data/hapt.ts';
import { InvalidOptionError } from '../../src/errors.ts';
import { FEATURE_SET } from '../../src/features/index.ts';
import { decodeEvent, FEATURE_VECTOR_BINARY_CONTENT_TYPE } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import { TOPICS } from '../../src/topics.ts';
import type { OutgoingRecord } from '../../src/transport/types.ts';
import { consumedVector } from '../support/features.ts';
import { asConsumed } from '../support/readings.ts';

const recording = loadRecordings('test', 'sample')[0];

function vectorsOf(processor: FeaturizerProcessor): OutgoingRecord[] {
  const producer = new ReadingsProducer({ publish: async () => {}, close: async () => {} });
  const readings = Array.from({ length: 8 }, (_, m) =>
    producer.record(
      'phone-a',
      Array.from({ length: 50 }, (_, i) =>
        Array.from(recording.samples.subarray((m * 50 + i) * 6, (m * 50 + i + 1) * 6)),
      ),
      { timestamp: 1_000_000 + m * 1000 },
    ),
  );
  const records = asConsumed(readings, TOPICS.sensorReadings);
  const out = processor.process({ topic: TOPICS.sensorReadings, partition: 0, records, highWatermark: records.length });
  return out.filter((r) => r.topic === TOPICS.features);
}

describe('feature-vector encodings between the featurizer and its readers', () => {
  it('the featurizer publishes binary vectors by default, JSON on request, with the same data', () => {
    const binary = vectorsOf(new FeaturizerProcessor());
    const json = vectorsOf(new FeaturizerProcessor({ vectorEncoding: 'json' }));
    // 400 samples: (400 - 128) / 64 + 1 = 5 windows.
    expect(binary).toHaveLength(5);
    expect(binary.map((r) => r.headers?.['content-type'])).toEqual(Array(5).fill(FEATURE_VECTOR_BINARY_CONTENT_TYPE));
    expect(json.map((r) => r.headers?.['content-type'])).toEqual(Array(5).fill('application/json'));
    const decode = (r: OutgoingRecord) =>
      decodeEvent(r.headers ?? {}, r.value, { accept: [EVENT_TYPES.featureVector] }).data;
    expect(binary.map(decode)).toEqual(json.map(decode));
    expect(() => new FeaturizerProcessor({ vectorEncoding: 'avro' as never })).toThrow(InvalidOptionError);
  });

  it('the drift detector reads both, and dead-letters a malformed binary vector with its reason', () => {
    const values = { values: [0, ...Array.from({ length: 217 }, (_, k) => k / 100)], label: 'WALKING' };
    const json = consumedVector(FEATURE_SET, 0, values);
    const binary = consumedVector(FEATURE_SET, 1, { ...values, contentType: FEATURE_VECTOR_BINARY_CONTENT_TYPE });
    const truncated = { ...binary, offset: 2, value: binary.value.subarray(0, binary.value.length - 8) };
    const p = new DriftDetectorProcessor();
    const out = p.process({ topic: 'features', partition: 0, records: [json, binary, truncated], highWatermark: 3 });
    expect(p.stats.vectors).toBe(2);
    expect(out).toHaveLength(1);
    const letter = decodeEvent(out[0].headers!, out[0].value, { accept: [EVENT_TYPES.deadLetter] }).data;
    expect(letter.reason).toBe('malformed-binary');
    expect(letter.message).toMatch(/^feature-vector\+binary: a \d+-byte header and 218 values make \d+ bytes/);
    expect(letter.original.value).toBe(truncated.value.toString('base64'));
  });
});
