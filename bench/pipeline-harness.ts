import { randomUUID } from 'node:crypto';
import type { VectorEncoding } from '../consumers/featurizer/processor.ts';
import { driftDetectorConsumer, featurizerConsumer } from '../consumers/index.ts';
import { drained } from '../src/cli/drain.ts';
import { silentLogger } from '../src/log/logger.ts';
import { decodeEvent } from '../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../src/schemas/registry.ts';
import { namespacedTopics, type TopicNames, topicSpecs } from '../src/topics.ts';
import { readTopic } from '../src/transport/read.ts';
import type { ConsumedRecord, RecordBatch, Transport } from '../src/transport/types.ts';

/** The featurizer and the drift detector on fresh topics of `transport`, the detector's verdicts stamped. */
export interface PipelineUnderTest {
  topics: TopicNames;
  /** Epoch ms at which the detector finished the batch holding each vector, by `partition:offset`. */
  verdictAt: Map<string, number>;
  /** Resolves once both consumers have committed everything their input topics hold. */
  drained(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startPipeline(
  transport: Transport,
  options: {
    exactlyOnce: boolean;
    vectorEncoding: VectorEncoding;
    /** Input records per partition between state checkpoints, or false: none. @defaultValue 1000 */
    checkpointInterval?: number | false;
  },
): Promise<PipelineUnderTest> {
  const topics = namespacedTopics(`bench-${randomUUID().slice(0, 8)}`);
  await transport.ensureTopics(topicSpecs(3, topics));
  const run = randomUUID().slice(0, 8);
  const verdictAt = new Map<string, number>();
  const { exactlyOnce, vectorEncoding, checkpointInterval = 1000 } = options;
  const featurizer = featurizerConsumer(
    { transport, topics, groupId: `f-${run}`, exactlyOnce, checkpointInterval, logger: silentLogger },
    { vectorEncoding },
  );
  const detector = driftDetectorConsumer({
    transport,
    topics,
    groupId: `d-${run}`,
    exactlyOnce,
    checkpointInterval,
    logger: silentLogger,
  });
  // Stamp each vector's verdict time: wrap the detector's processing (synchronous, so the stamp follows it).
  const processBatch = detector.processor.process.bind(detector.processor);
  detector.processor.process = (batch: RecordBatch) => {
    const out = processBatch(batch);
    const now = Date.now();
    for (const r of batch.records) verdictAt.set(`${r.partition}:${r.offset}`, now);
    return out;
  };
  await featurizer.consumer.start();
  await detector.consumer.start();
  return {
    topics,
    verdictAt,
    drained: (timeoutMs) =>
      drained(
        transport,
        [
          [`f-${run}`, topics.sensorReadings],
          [`d-${run}`, topics.features],
        ],
        timeoutMs,
      ),
    stop: async () => {
      await featurizer.consumer.stop();
      await detector.consumer.stop();
    },
  };
}

/** One feature vector: the readings record that completed its window, and when its verdict came. */
export interface VectorTiming {
  /**
   * The readings record's timestamp: the append time on the embedded log, the producer's CreateTime on
   * Kafka (stamped when the batch is handed to the client, so the produce round trip counts too).
   */
  appended: number;
  verdict: number;
  reading: ConsumedRecord;
}

/** Every vector of the run with its timings; its latency is `verdict − appended`. */
export async function vectorTimings(pipeline: PipelineUnderTest, transport: Transport): Promise<VectorTiming[]> {
  const readings = new Map<string, ConsumedRecord>();
  for await (const r of readTopic(transport, pipeline.topics.sensorReadings))
    readings.set(`${r.partition}:${r.offset}`, r);
  const timings: VectorTiming[] = [];
  for await (const r of readTopic(transport, pipeline.topics.features)) {
    const v = decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.featureVector] }).data;
    const reading = readings.get(`${v.source.partition}:${v.source.lastOffset}`);
    const verdict = pipeline.verdictAt.get(`${r.partition}:${r.offset}`);
    if (reading !== undefined && verdict !== undefined) timings.push({ appended: reading.timestamp, verdict, reading });
  }
  return timings;
}

/** Sorted copy of `values`. */
export const sorted = (values: Iterable<number>): Float64Array => Float64Array.from(values).sort();

/** The `p` quantile of sorted values (nearest rank), 0 when there are none. */
export const quantile = (sorted: ArrayLike<number>, p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
