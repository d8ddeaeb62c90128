import { describe, expect, it } from 'vitest';
import { FeaturizerProcessor } from '../../consumers/featurizer/processor.ts';
import { ReadingsProducer } from '../../producers/readings-producer.ts';
import { loadRecordings } from '../../src/data/hapt.ts';
import { decodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import { TOPICS } from '../../src/topics.ts';
import type { ConsumedRecord, OutgoingRecord } from '../../src/transport/types.ts';
import { asConsumed } from '../support/readings.ts';

const recording = loadRecordings('test', 'sample')[0];

const consumed = (records: OutgoingRecord[]) => asConsumed(records, TOPICS.sensorReadings);

describe('featurizer consumer', () => {
  it('dead-letters bad records with their reason and bytes, and featurizes the good ones around them', () => {
    // JSON bodies, so that the bad records (text that is not JSON, a JSON body off the schema) fit the headers.
    const producer = new ReadingsProducer({ publish: async () => {}, close: async () => {} }, { encoding: 'json' });
    const good: OutgoingRecord[] = [];
    for (let s = 0; s < 1000; s += 50) {
      const rows = Array.from({ length: 50 }, (_, i) =>
        Array.from(recording.samples.subarray((s + i) * 6, (s + i) * 6 + 6)),
      );
      good.push(producer.record('phone-a', rows, { timestamp: 1_000_000 + s * 20 }));
    }
    const bad: [string, OutgoingRecord][] = [
      ['not-json', { ...good[0], value: Buffer.from('{oops') }],
      ['unknown-type', { ...good[0], headers: { ...good[0].headers, ce_type: 'com.example.v1' } }],
      ['out-of-order', good[1]],
      ['schema-violation', { ...good[0], value: Buffer.from(JSON.stringify({ device: 'x' })) }],
    ];
    // good[1] again after good[2]: a duplicate the featurizer must refuse without moving the device's state.
    const sequence = [good[0], bad[0][1], good[1], bad[1][1], good[2], bad[2][1], bad[3][1], ...good.slice(3)];
    const processor = new FeaturizerProcessor();
    const out = processor.process({
      topic: TOPICS.sensorReadings,
      partition: 0,
      records: consumed(sequence),
      highWatermark: sequence.length,
    });
    const letters = out
      .filter((r) => r.topic === TOPICS.deadLetter)
      .map((r) => decodeEvent(r.headers ?? {}, r.value, { accept: [EVENT_TYPES.deadLetter] }).data);
    expect(letters.map((l) => l.reason)).toEqual(bad.map(([reason]) => reason));
    expect(letters[0].original.value).toBe(Buffer.from('{oops').toString('base64'));
    const vectors = out.filter((r) => r.topic === TOPICS.features);
    // 1,000 consecutive good samples make (1000 - 128) / 64 + 1 = 14 windows.
    expect(vectors).toHaveLength(14);
  });
});

describe('featurizer checkpoints', () => {
  it('a featurizer restored after a crash emits the same vectors as one that never stopped', () => {
    const producer = new ReadingsProducer({ publish: async () => {}, close: async () => {} });
    const messages: OutgoingRecord[] = [];
    for (const [device, offset] of [
      ['phone-a', 0],
      ['phone-b', 3000],
    ] as const) {
      for (let s = 0; s < 3000; s += 50) {
        const rows = Array.from({ length: 50 }, (_, i) =>
          Array.from(recording.samples.subarray((offset + s + i) * 6, (offset + s + i) * 6 + 6)),
        );
        messages.push(producer.record(device, rows, { timestamp: 1_000_000 + s * 20 }));
      }
    }
    // Interleave the two phones as they would arrive.
    const records = consumed(messages.map((_, i) => messages[(i % 2) * 60 + Math.floor(i / 2)]));
    const run = (p: FeaturizerProcessor, rs: ConsumedRecord[]) =>
      p.process({ topic: TOPICS.sensorReadings, partition: 0, records: rs, highWatermark: 0 });
    const key = (r: OutgoingRecord) => `${r.headers!.ce_id}:${r.value.toString('base64')}`;
    const reference = run(new FeaturizerProcessor(), records).map(key);
    expect(reference.length).toBeGreaterThan(80);

    for (const [crash, checkpointAt, committed] of [
      [70, 50, 40],
      [91, 64, 80],
      [33, 31, 0],
    ]) {
      const a = new FeaturizerProcessor();
      const published = [...run(a, records.slice(0, checkpointAt))];
      const snapshots = a.takeCheckpoint(0);
      published.push(...run(a, records.slice(checkpointAt, crash)));
      const b = new FeaturizerProcessor();
      b.restore(0, snapshots);
      if (committed > checkpointAt) run(b, records.slice(checkpointAt, committed));
      const resumed = run(b, records.slice(committed)).map(key);
      // Nothing twice from the restored one, nothing missing overall.
      expect(resumed).toEqual(reference.slice(reference.length - resumed.length));
      expect(new Set([...published.map(key), ...resumed])).toEqual(new Set(reference));
    }
  });
});
