import type { ConsumedRecord, Transport } from './types.ts';

/** Records per readRange call: a long range is read in steps so it never sits in memory twice. */
const READ_CHUNK = 5000;

/** Reads one partition's inclusive range in chunks, in offset order. */
export async function* readPartition(
  transport: Transport,
  topic: string,
  partition: number,
  fromOffset: number,
  toOffset: number,
): AsyncGenerator<ConsumedRecord> {
  for (let from = fromOffset; from <= toOffset; from += READ_CHUNK) {
    yield* await transport.readRange(topic, partition, from, Math.min(toOffset, from + READ_CHUNK - 1));
  }
}

/**
 * Reads every partition of a topic from `from[p]` (default 0) to its end
 * offset now, partition after partition. Not a consumer group: nothing is committed.
 */
export async function* readTopic(
  transport: Transport,
  topic: string,
  from: readonly number[] = [],
): AsyncGenerator<ConsumedRecord> {
  const ends = await transport.endOffsets(topic);
  for (let p = 0; p < ends.length; p++) {
    if (ends[p] > (from[p] ?? 0)) yield* readPartition(transport, topic, p, from[p] ?? 0, ends[p] - 1);
  }
}
