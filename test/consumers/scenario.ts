import { randomUUID } from 'node:crypto';
import { silentLogger } from '../../src/log/logger.ts';
import { namespacedTopics, type TopicNames } from '../../src/topics.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import { readPartition, readTopic } from '../../src/transport/read.ts';
import type { ConsumedRecord, Transport } from '../../src/transport/types.ts';
import { type RunOptions, type RunSummary, runLoop } from '../support/run-loop.ts';

/**
 * The drift scenario the suites share: the bundled sample's test users, one session each,
 * replayed twice as fast as the log takes them, the phones worn rotated 45° the second time;
 * replay → featurizer → drift detector → drift events.
 */
export function driftScenario(
  transport: Transport,
  topics: TopicNames,
  options: Pick<RunOptions, 'hold' | 'onProgress' | 'vectorEncoding' | 'readingsEncoding'> = {},
): Promise<RunSummary> {
  return runLoop(
    transport,
    { data: 'sample', drift: 'rotation:z:45', loops: 2, speed: 'max', partitions: 3, topics, ...options },
    silentLogger,
    () => {},
  );
}

/** The drift scenario's feature vectors, made on an embedded log of their own, per partition of the features topic. */
export async function scenarioFeatures(): Promise<ConsumedRecord[][]> {
  const log = new EmbeddedLog();
  try {
    const topics = namespacedTopics(`sf-${randomUUID()}`);
    await driftScenario(log, topics);
    const ends = await log.endOffsets(topics.features);
    const partitions: ConsumedRecord[][] = [];
    for (let p = 0; p < ends.length; p++) {
      const records: ConsumedRecord[] = [];
      for await (const r of readPartition(log, topics.features, p, 0, ends[p] - 1)) records.push(r);
      partitions.push(records);
    }
    return partitions;
  } finally {
    await log.close();
  }
}

/** The CloudEvent ids of a topic's records, partition after partition. */
export async function eventIds(transport: Transport, topic: string): Promise<string[]> {
  const out: string[] = [];
  for await (const r of readTopic(transport, topic)) out.push(r.headers.ce_id);
  return out;
}

/**
 * Output topics of a second drift detector reading a scenario's features: its own drift events,
 * state and dead letters, made on the transport. Returns the topic names it works with.
 */
export async function secondDetectorTopics(transport: Transport, topics: TopicNames): Promise<TopicNames> {
  const prefix = `d2-${randomUUID()}`;
  const mine: TopicNames = {
    ...topics,
    driftEvents: `${prefix}.drift-events`,
    detectorState: `${prefix}.detector-state`,
    deadLetter: `${prefix}.dead-letter`,
  };
  await transport.ensureTopics([
    { topic: mine.driftEvents, partitions: 1 },
    { topic: mine.deadLetter, partitions: 1 },
    { topic: mine.detectorState, partitions: 3, compacted: true },
  ]);
  return mine;
}
