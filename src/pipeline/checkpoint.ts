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
 * A checkpoint may be spread over the batches that follow its start (a
 * processor that offers `changedStreams` and `snapshotStream`): after each
 * batch's outputs are acknowledged, the consumer encodes and writes a few more
 * of the streams that were changed when the checkpoint began, so that no
 * batch waits for the whole partition's state to be encoded (issue 17). Its
 * marker says M, the partition's last offset when it began: each of those
 * streams got a snapshot, perhaps of a later state (records after M whose
 * outputs were acknowledged first, so still a correct state), and any other
 * stream had no record after its previous snapshot up to M.
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
  /**
   * With `snapshotStream`, a checkpoint spread over batches: the keys of the streams of `partition`
   * changed since their last snapshot. Without the pair, each checkpoint is taken whole, at once.
   */
  changedStreams?(partition: number): string[];
  /** The snapshot of stream `key` as it is now, which marks it clean; undefined when it is clean or gone. */
  snapshotStream?(key: string): StreamSnapshot | undefined;
}

const MARKER_KEY = '\u0000checkpoint';
const OFFSET_HEADER = 'activity-tracking-offset';

export interface CheckpointOptions {
  /** The compacted state topic, with at least as many partitions as the input. */
  topic: string;
  /** Input records of a partition between checkpoints. @defaultValue 1000 */
  interval?: number;
  /**
   * With a processor whose checkpoints are spread over batches: the least snapshot bytes encoded after a
   * batch while one is under way (each batch also takes its share of the streams left, so that a
   * checkpoint ends before the next is due). More makes fewer and longer pauses. @defaultValue 65536
   */
  sliceBytes?: number;
}

/** The records of one checkpoint of a partition: snapshots, and the marker that must follow them. */
export function checkpointRecords(
  topic: string,
  partition: number,
  snapshots: StreamSnapshot[],
  watermark: number,
): { snapshots: OutgoingRecord[]; marker: OutgoingRecord } {
  return {
    snapshots: snapshots.map((s) => snapshotRecord(topic, partition, s)),
    marker: markerRecord(topic, partition, watermark),
  };
}

/** One stream's snapshot as a record of the state topic. */
export function snapshotRecord(topic: string, partition: number, s: StreamSnapshot): OutgoingRecord {
  return {
    topic,
    partition,
    key: s.key,
    value: Buffer.from(s.bytes.buffer, s.bytes.byteOffset, s.bytes.byteLength),
    headers: { [OFFSET_HEADER]: String(s.offset) },
  };
}

/** The record that completes a checkpoint: every stream with input records up to `watermark` has a snapshot. */
export function markerRecord(topic: string, partition: number, watermark: number): OutgoingRecord {
  return {
    topic,
    partition,
    key: MARKER_KEY,
    value: Buffer.from(JSON.stringify({ offset: watermark })),
    headers: { [OFFSET_HEADER]: String(watermark) },
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
