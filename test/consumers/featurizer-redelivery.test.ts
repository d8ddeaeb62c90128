import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FeaturizerProcessor } from '../../consumers/featurizer/processor.ts';
import { TransportError } from '../../src/errors.ts';
import { StreamConsumer } from '../../src/pipeline/stream-consumer.ts';
import { namespacedTopics, type TopicNames, topicSpecs } from '../../src/topics.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import { readTopic } from '../../src/transport/read.ts';
import { publishBytes } from '../../src/transport/record-size.ts';
import type { ConsumedRecord, OutgoingRecord, Transport } from '../../src/transport/types.ts';
import { usePeer } from '../eventhubs/harness.ts';
import { testKafka } from '../setup/services.ts';
import { binaryReadings } from '../support/readings.ts';
import { waitFor } from '../support/wait.ts';

const MESSAGES = 40;
const SAMPLES = 64;
const BATCH = 10;

const readings = (topic: string) => binaryReadings(topic, { messages: MESSAGES, samples: SAMPLES });

interface Vector {
  id: string;
  value: string;
}

/** The vectors one processor that never failed makes of `input`. */
function expectedVectors(topics: TopicNames, input: OutgoingRecord[]): Vector[] {
  const records: ConsumedRecord[] = input.map((r, offset) => ({
    ...r,
    partition: 0,
    offset,
    headers: r.headers ?? {},
    timestamp: 0,
  }));
  const out = new FeaturizerProcessor({ topics }).process({
    topic: topics.sensorReadings,
    partition: 0,
    records,
    highWatermark: input.length,
  });
  return out.map((r) => ({ id: r.headers?.ce_id ?? '', value: r.value.toString('base64') }));
}

/**
 * `transport` whose producers refuse the `nth` publish (counting from 1) carrying a record of `topic`,
 * once, as a broker that is down would: the hook that makes a batch fail after process().
 */
function failingPublish(transport: Transport, topic: string, nth: number): Transport & { failed: () => boolean } {
  let seen = 0;
  return {
    kind: transport.kind,
    failed: () => seen >= nth,
    ensureTopics: (specs) => transport.ensureTopics(specs),
    producer: async () => {
      const producer = await transport.producer();
      return {
        publish: async (records) => {
          if (records.some((r) => r.topic === topic) && ++seen === nth)
            throw new TransportError(`injected: publish ${nth} to ${topic} refused`);
          await producer.publish(records);
        },
        close: () => producer.close(),
      };
    },
    subscribe: (options) => transport.subscribe(options),
    readRange: (t, partition, from, to) => transport.readRange(t, partition, from, to),
    endOffsets: (t) => transport.endOffsets(t),
    committedOffsets: (groupId, t) => transport.committedOffsets(groupId, t),
    close: () => transport.close(),
  };
}

interface Run {
  /** The publish (to `failTopic`, counting from 1) that fails once. */
  failAt: number;
  failTopic: (topics: TopicNames) => string;
  /** Checkpoint interval, or no checkpoints. */
  checkpoint: number | false;
  /** Cuts each batch's outputs into parts, each committed with its inputs before the next is published. */
  maxPublishBytes?: number;
}

/** Runs a featurizer over the readings with one publish failing; returns what it published, in log order. */
async function runWithFailure(
  base: Transport,
  run: Run,
): Promise<{ published: Vector[]; expected: Vector[]; deadLetters: number }> {
  const topics = namespacedTopics(`fr-${randomUUID()}`);
  await base.ensureTopics(topicSpecs(1, topics));
  const input = readings(topics.sensorReadings);
  const transport = failingPublish(base, run.failTopic(topics), run.failAt);
  const producer = await base.producer();
  await producer.publish(input);
  await producer.close();
  const expected = expectedVectors(topics, input);
  const groupId = `featurizer-${randomUUID()}`;
  const consumer = new StreamConsumer({
    component: 'featurizer',
    transport,
    groupId,
    topics: [topics.sensorReadings],
    processor: new FeaturizerProcessor({ topics }),
    maxBatchSize: BATCH,
    deadLetterTopic: topics.deadLetter,
    ...(run.checkpoint === false ? {} : { checkpoint: { topic: topics.featurizerState, interval: run.checkpoint } }),
    ...(run.maxPublishBytes ? { maxPublishBytes: run.maxPublishBytes } : {}),
  });
  await consumer.start();
  try {
    await waitFor(
      async () => transport.failed() && (await base.committedOffsets(groupId, topics.sensorReadings))[0] === MESSAGES,
      `the injected failure and the featurizer committing all ${MESSAGES} readings`,
      { timeoutMs: 8_000 },
    );
  } finally {
    await consumer.stop();
  }
  const published: Vector[] = [];
  for await (const r of readTopic(base, topics.features))
    published.push({ id: r.headers.ce_id, value: r.value.toString('base64') });
  return { published, expected, deadLetters: (await base.endOffsets(topics.deadLetter))[0] };
}

/** Each vector's id once, in the order of its first copy: a redelivery may repeat vectors, never drop one. */
const firstCopies = (vectors: Vector[]) => [...new Set(vectors.map((v) => v.id))];

/** Every vector in the log (copies too) is bit-identical to the one a processor that never failed made. */
function expectSameBytes(published: Vector[], expected: Vector[]): void {
  const want = new Map(expected.map((v) => [v.id, v.value]));
  const differing = published.filter((v) => want.get(v.id) !== v.value).map((v) => v.id);
  expect(differing, 'vectors whose bytes differ').toEqual([]);
}

const vectorOf = (topics: TopicNames) => topics.features;
const stateOf = (topics: TopicNames) => topics.featurizerState;

/**
 * A batch whose publish fails is redelivered to the same instance, which had already applied its records
 * to the device's state and marked them applied: it skipped them on redelivery and their vectors were
 * never published. The consumer now puts the partition's state back to the committed offset first.
 */

/**
 * A batch whose outputs go out in parts (two or three vectors each: a batch of ten readings in four parts or
 * so, each committed) and whose third part fails: every vector is published, the same bytes, no dead letter.
 */
async function expectPartsRecovered(transport: Transport): Promise<void> {
  const topics = namespacedTopics('size');
  const one = publishBytes([{ topic: topics.features, key: 'phone-a', ...vectorRecord(topics) }]);
  const { published, expected, deadLetters } = await runWithFailure(transport, {
    failAt: 3,
    failTopic: vectorOf,
    checkpoint: 15,
    maxPublishBytes: Math.floor(one * 2.5),
  });
  expect(firstCopies(published)).toEqual(firstCopies(expected));
  expectSameBytes(published, expected);
  expect(deadLetters).toBe(0);
}

describe('featurizer: a failed publish and its redelivery to the same instance (embedded log)', () => {
  const embedded = () => new EmbeddedLog({ retryBackoffMs: 10 });

  it.each([
    ['the vectors of a batch after the first', { failAt: 2, failTopic: vectorOf, checkpoint: 15 }],
    ['the vectors of the first batch', { failAt: 1, failTopic: vectorOf, checkpoint: 15 }],
    ['the snapshots of a checkpoint', { failAt: 1, failTopic: stateOf, checkpoint: 15 }],
    ['the marker of a checkpoint', { failAt: 2, failTopic: stateOf, checkpoint: 15 }],
    ['a snapshot after the first checkpoint', { failAt: 3, failTopic: stateOf, checkpoint: 5 }],
  ] satisfies [string, Run][])(
    'publishes every vector after a failure to publish %s (checkpointed)',
    async (_what, run) => {
      const { published, expected, deadLetters } = await runWithFailure(embedded(), run);
      expect(expected).toHaveLength(MESSAGES - 1);
      expect(firstCopies(published)).toEqual(firstCopies(expected));
      expectSameBytes(published, expected);
      expect(deadLetters).toBe(0);
    },
  );

  it('publishes every vector when the second part of a batch published in parts fails (checkpointed)', async () => {
    await expectPartsRecovered(embedded());
  });

  it('without checkpoints, rebuilds the state from the redelivered records', async () => {
    const first = await runWithFailure(embedded(), { failAt: 1, failTopic: vectorOf, checkpoint: false });
    expect(firstCopies(first.published)).toEqual(firstCopies(first.expected));
    // A failure in the second batch: its readings come again to a featurizer with no state of the device,
    // which starts its windows at the batch's first reading. Only the window that spans the two batches
    // is not made again; every later one is (its filters start afresh too, so the values differ a little).
    const second = await runWithFailure(embedded(), { failAt: 2, failTopic: vectorOf, checkpoint: false });
    const spanning = `phone-a:${(BATCH - 1) * SAMPLES}`;
    expect(firstCopies(second.expected)).toContain(spanning);
    expect(firstCopies(second.published)).toEqual(firstCopies(second.expected).filter((id) => id !== spanning));
  });
});

describe('featurizer: a failed publish and its redelivery to the same instance (real broker)', () => {
  it('publishes every vector after a failure to publish the vectors of a batch (checkpointed)', {
    // About 7 s, 5 of them kafkajs leaving the group on stop.
    timeout: 15_000,
  }, async () => {
    const transport = testKafka('featurizer-redelivery-test');
    try {
      const { published, expected, deadLetters } = await runWithFailure(transport, {
        failAt: 2,
        failTopic: vectorOf,
        checkpoint: 15,
      });
      expect(firstCopies(published)).toEqual(firstCopies(expected));
      expectSameBytes(published, expected);
      expect(deadLetters).toBe(0);
    } finally {
      await transport.close();
    }
  });
});

// Event Hubs hands the failed batch again from after its last commit, a checkpoint at that event.
describe('featurizer: a failed publish and its redelivery to the same instance (Event Hubs)', () => {
  const { transport } = usePeer();
  it('publishes every vector after a failure to publish the vectors of a batch (checkpointed)', {
    timeout: 15_000,
  }, async () => {
    const eventhubs = await transport();
    try {
      const { published, expected, deadLetters } = await runWithFailure(eventhubs, {
        failAt: 2,
        failTopic: vectorOf,
        checkpoint: 15,
      });
      expect(firstCopies(published)).toEqual(firstCopies(expected));
      expectSameBytes(published, expected);
      expect(deadLetters).toBe(0);
    } finally {
      await eventhubs.close();
    }
  });

  it('publishes every vector when the second part of a batch published in parts fails (checkpointed)', {
    timeout: 15_000,
  }, async () => {
    const eventhubs = await transport();
    try {
      await expectPartsRecovered(eventhubs);
    } finally {
      await eventhubs.close();
    }
  });
});

/** One vector as the featurizer makes it, for its size. */
function vectorRecord(topics: TopicNames): Pick<OutgoingRecord, 'headers' | 'value'> {
  const input = readings(topics.sensorReadings).slice(0, 2);
  const out = new FeaturizerProcessor({ topics }).process({
    topic: topics.sensorReadings,
    partition: 0,
    records: input.map((r, offset) => ({ ...r, partition: 0, offset, headers: r.headers ?? {}, timestamp: 0 })),
    highWatermark: 2,
  });
  return { headers: out[0].headers, value: out[0].value };
}
