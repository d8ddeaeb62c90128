import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { featurizerConsumer } from '../../consumers/index.ts';
import { ReadingsProducer } from '../../producers/readings-producer.ts';
import { drained } from '../../src/cli/drain.ts';
import { loadRecordings } from '../../src/data/hapt.ts';
import { decodeEvent, READINGS_BINARY_CONTENT_TYPE } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import { namespacedTopics, topicSpecs } from '../../src/topics.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import { readTopic } from '../../src/transport/read.ts';
import type { OutgoingRecord, Transport } from '../../src/transport/types.ts';
import { usePeer } from '../eventhubs/harness.ts';
import { testKafka } from '../setup/services.ts';

const eventHubs = usePeer();

const recording = loadRecordings('test', 'sample')[0];

/** issue 3: every kind of bad input lands in the dead-letter topic with its reason and bytes; the good records around it are featurized. */
describe.each([
  ['embedded', async (): Promise<Transport> => new EmbeddedLog()],
  ['kafka', async (): Promise<Transport> => testKafka('dead-letter-test')],
  ['eventhubs', (): Promise<Transport> => eventHubs.transport()],
])('bad input on %s', (_name, makeTransport) => {
  it('14 kinds of bad record are dead-lettered with reason and original bytes; nothing good is lost', {
    timeout: 120_000,
  }, async () => {
    const transport = await makeTransport();
    try {
      const topics = namespacedTopics(`dl-${randomUUID()}`);
      await transport.ensureTopics(topicSpecs(1, topics));
      const readings = new ReadingsProducer(
        { publish: async () => {}, close: async () => {} },
        // JSON bodies: the bad records below are made by editing a good one's JSON.
        { topic: topics.sensorReadings, encoding: 'json' },
      );
      const good: OutgoingRecord[] = [];
      for (let s = 0; s < 1000; s += 50) {
        const rows = Array.from({ length: 50 }, (_, i) =>
          Array.from(recording.samples.subarray((s + i) * 6, (s + i) * 6 + 6)),
        );
        good.push(readings.record('phone-a', rows, { timestamp: 1_000_000 + s * 20 }));
      }
      const g = good[0];
      const json = JSON.parse(g.value.toString()) as Record<string, unknown>;
      const withValue = (v: unknown): OutgoingRecord => ({
        ...g,
        value: Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)),
      });
      const withHeaders = (h: Record<string, string | undefined>): OutgoingRecord => {
        const headers = { ...g.headers, ...h };
        for (const k of Object.keys(headers)) if (headers[k] === undefined) delete headers[k];
        return { ...g, headers: headers as Record<string, string> };
      };
      const bad: [string, OutgoingRecord][] = [
        ['not-json', withValue('{oops')],
        ['invalid-utf8', { ...g, value: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }],
        ['unknown-type', withHeaders({ ce_type: 'com.example.thing.v1' })],
        ['unknown-version', withHeaders({ ce_type: 'dev.activity-tracking.sensor-readings.v9' })],
        ['missing-attribute', withHeaders({ ce_id: undefined })],
        ['bad-specversion', withHeaders({ ce_specversion: '0.3' })],
        ['bad-content-type', withHeaders({ 'content-type': 'text/plain' })],
        [
          'malformed-binary',
          { ...withHeaders({ 'content-type': READINGS_BINARY_CONTENT_TYPE }), value: Buffer.from([1, 2, 3]) },
        ],
        ['schema-violation', withValue({ device: 'phone-a' })],
        ['non-finite', withValue(g.value.toString().replace(/\[\[[-0-9.e]+/, '[[1e999'))],
        ['length-mismatch', withValue({ ...json, labels: ['WALKING'] })],
        ['oversized', withValue({ ...json, device: 'x'.repeat(20_000) })],
        ['unsupported-sample-rate', withValue({ ...json, sampleRate: 100 })],
        ['out-of-order', good[1]],
      ];
      // Good records with bad ones between them; good[1] comes again after good[2] (a duplicate).
      const sequence = [
        good[0],
        ...bad.slice(0, 7).map(([, r]) => r),
        good[1],
        good[2],
        ...bad.slice(7).map(([, r]) => r),
        ...good.slice(3),
      ];
      const producer = await transport.producer();
      for (const r of sequence) await producer.publish([r]);
      await producer.close();
      const groupId = `featurizer-${randomUUID()}`;
      const { consumer } = featurizerConsumer({ transport, topics, groupId }, { maxMessageBytes: 16_384 });
      await consumer.start();
      await drained(transport, [[groupId, topics.sensorReadings]], 60_000);
      await consumer.stop();

      const letters = [];
      for await (const r of readTopic(transport, topics.deadLetter))
        letters.push(decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.deadLetter] }).data);
      expect(letters.map((l) => l.reason)).toEqual(bad.map(([reason]) => reason));
      for (let i = 0; i < bad.length; i++) {
        expect(Buffer.from(letters[i].original.value, 'base64').equals(bad[i][1].value), bad[i][0]).toBe(true);
        expect(letters[i].original.topic).toBe(topics.sensorReadings);
        expect(letters[i].message.length).toBeGreaterThan(5);
      }
      // 1,000 consecutive good samples → (1000 − 128) / 64 + 1 = 14 windows, none lost to the bad records.
      let vectors = 0;
      for await (const _ of readTopic(transport, topics.features)) vectors++;
      expect(vectors).toBe(14);
      expect((await transport.committedOffsets(groupId, topics.sensorReadings))[0]).toBe(sequence.length);
    } finally {
      await transport.close();
    }
  });
});
