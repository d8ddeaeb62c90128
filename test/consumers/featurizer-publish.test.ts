import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FeaturizerProcessor } from '../../consumers/featurizer/processor.ts';
import { featurizerConsumer } from '../../consumers/index.ts';
import { namespacedTopics, topicSpecs } from '../../src/topics.ts';
import { readTopic } from '../../src/transport/read.ts';
import { publishBytes } from '../../src/transport/record-size.ts';
import type { ConsumedRecord } from '../../src/transport/types.ts';
import { testKafka } from '../setup/services.ts';
import { binaryReadings } from '../support/readings.ts';
import { waitFor } from '../support/wait.ts';

const MESSAGES = 260;
const SAMPLES = 64;

// JSON vectors (4.2 kB each) make 259 of them weigh over 1 MiB; binary ones (2 kB) would need a second fetch.
const vectorEncoding = 'json';
const readings = (topic: string) => binaryReadings(topic, { messages: MESSAGES, samples: SAMPLES });

/**
 * The broker-restart hang: one input batch whose outputs (feature vectors) weigh more than the broker's
 * 1 MiB message.max.bytes went out as one produce request, was refused for good and redelivered forever.
 * The consumer now publishes such a batch in parts, each committed with its inputs.
 */
describe.each([
  ['at-least-once', false],
  ['exactly-once', true],
])('featurizer batch with more than 1 MiB of outputs (real broker, %s)', (_mode, exactlyOnce) => {
  it('publishes every vector once, the same bytes as one processor call, and commits the whole batch', {
    timeout: 30_000,
  }, async () => {
    const transport = testKafka('featurizer-publish-test');
    try {
      const topics = namespacedTopics(`fp-${randomUUID()}`);
      await transport.ensureTopics(topicSpecs(1, topics));
      const input = readings(topics.sensorReadings);
      const producer = await transport.producer();
      await producer.publish(input); // 260 messages of about 1.6 KB: one fetch, one batch for the consumer
      await producer.close();

      const consumed: ConsumedRecord[] = input.map((r, offset) => ({
        ...r,
        partition: 0,
        offset,
        headers: r.headers ?? {},
        timestamp: 0,
      }));
      const expected = new FeaturizerProcessor({ topics, vectorEncoding }).process({
        topic: topics.sensorReadings,
        partition: 0,
        records: consumed,
        highWatermark: MESSAGES,
      });
      expect(expected).toHaveLength(MESSAGES - 1);
      expect(publishBytes(expected)).toBeGreaterThan(1 << 20);

      const groupId = `featurizer-${randomUUID()}`;
      const { consumer } = featurizerConsumer({ transport, topics, groupId, exactlyOnce }, { vectorEncoding });
      await consumer.start();
      try {
        await waitFor(
          async () => (await transport.committedOffsets(groupId, topics.sensorReadings))[0] === MESSAGES,
          'the featurizer to commit all 260 readings',
          { timeoutMs: 15_000 },
        );
      } finally {
        await consumer.stop();
      }
      const published: string[] = [];
      for await (const r of readTopic(transport, topics.features))
        published.push(`${r.headers.ce_id} ${r.value.toString('base64')}`);
      expect(published.length, 'vectors on the features topic').toBe(expected.length);
      expect(published).toEqual(expected.map((r) => `${r.headers?.ce_id} ${r.value.toString('base64')}`));
      expect((await transport.endOffsets(topics.deadLetter))[0]).toBe(0);
    } finally {
      await transport.close();
    }
  });
});
