import { readPartition } from '../transport/read.ts';
import type { ConsumedRecord, OutgoingRecord, Transport } from '../transport/types.ts';

/**
 * State checkpoints in a compacted changelog topic, after Kafka Streams'
 * state stores (docs/exactly-once.md).
 *
 * A stateful processor keeps state per stream (a device, or a device and
 * activity) inside the input partition the stream's records come from. Every
 * `interval` input records of a partition, the consumer writes a snapshot of
 * each stream changed since the last checkpoint — to the state topic's
 * partition of the same number, keyed by stream, with the last input offset
 * the snapshot includes — and then a marker record saying "every stream with
 * records up to offset M has a snapshot". Snapshots are written only after
 * the outputs of the records they include are acknowledged, and the marker
 * only after all the checkpoint's snapshots are.
 *
 * On assignment the newest snapshot of each stream and the newest marker M
 * are read back. Input records after M and before the group's committed
 * offset are fed again with their outputs discarded (they were published and
 * committed); a stream skips every record at or below its snapshot's offset
 * (its state and outputs already include it). A restored processor therefore
 * continues as one that never stopped, and records it had processed and
 * published but not committed before a crash produce no second output when
 * they are redelivered, if a snapshot after them was written.
 */

export interface StreamSnapshot {
  key: string;
  bytes: Uint8Array;
  /** The last input offset the snapshot includes. */
  offset: number;
}

/** What a processor offers to be checkpointed. */
export interface Checkpointable {
  /** Snapshots of the streams of `partition` changed since the previous call; marks them clean. */
  takeCheckpoint(partition: number): StreamSnapshot[];
  /** Replaces the partition's state with these snapshots (streams without one start empty). */
  restore(partition: number, snapshots: StreamSnapshot[]): void;
}

const MARKER_KEY = '\u0000checkpoint';
const OFFSET_HEADER = 'activity-tracking-offset';

export interface CheckpointOptions {
  /** The compacted state topic, with at least as many partitions as the input. */
  topic: string;
  /** Input records of a partition between checkpoints. @defaultValue 1000 */
  interval?: number;
}

/** The records of one checkpoint of a partition: snapshots, and the marker that must follow them. */
export function checkpointRecords(
  topic: string,
  partition: number,
  snapshots: StreamSnapshot[],
  watermark: number,
): { snapshots: OutgoingRecord[]; marker: OutgoingRecord } {
  return {
    snapshots: snapshots.map((s) => ({
      topic,
      partition,
      key: s.key,
      value: Buffer.from(s.bytes.buffer, s.bytes.byteOffset, s.bytes.byteLength),
      headers: { [OFFSET_HEADER]: String(s.offset) },
    })),
    marker: {
      topic,
      partition,
      key: MARKER_KEY,
      value: Buffer.from(JSON.stringify({ offset: watermark })),
      headers: { [OFFSET_HEADER]: String(watermark) },
    },
  };
}

export interface RestoredCheckpoint {
  snapshots: StreamSnapshot[];
  /** Every stream with input records up to this offset has a snapshot; -1 when no checkpoint completed. */
  watermark: number;
}

/** Reads the newest snapshot per stream and the newest marker of one state partition. */
export async function readCheckpoint(
  transport: Transport,
  topic: string,
  partition: number,
): Promise<RestoredCheckpoint> {
  const end = (await transport.endOffsets(topic))[partition] ?? 0;
  const newest = new Map<string, ConsumedRecord>();
  if (end > 0)
    for await (const r of readPartition(transport, topic, partition, 0, end - 1))
      if (r.key !== null) newest.set(r.key, r);
  const marker = newest.get(MARKER_KEY);
  newest.delete(MARKER_KEY);
  const watermark = marker ? Number(marker.headers[OFFSET_HEADER]) : -1;
  const snapshots: StreamSnapshot[] = [];
  for (const [key, r] of newest) {
    // A snapshot beyond the last complete marker belongs to a checkpoint cut short; it is still a
    // correct state of its stream (its outputs were acknowledged first), so it is used.
    if (r.value.length === 0) continue;
    snapshots.push({ key, bytes: new Uint8Array(r.value), offset: Number(r.headers[OFFSET_HEADER]) });
  }
  return { snapshots, watermark: Number.isFinite(watermark) ? watermark : -1 };
}
