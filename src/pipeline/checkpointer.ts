import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { InvalidOptionError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type { PipelineMetrics } from '../metrics/metrics.ts';
import { readPartition } from '../transport/read.ts';
import type {
  ConsumedRecord,
  OutgoingRecord,
  Producer,
  RecordBatch,
  TopicPartition,
  Transport,
} from '../transport/types.ts';
import {
  type Checkpointable,
  type CheckpointOptions,
  checkpointRecords,
  markerRecord,
  readCheckpoint,
  snapshotRecord,
} from './checkpoint.ts';

/** What a Checkpointer needs of its StreamConsumer. */
export interface CheckpointerOptions {
  component: string;
  transport: Transport;
  groupId: string;
  checkpoint: CheckpointOptions;
  metrics?: PipelineMetrics;
}

/** The processor side: it replays records into its state, and checkpoints it. */
export interface CheckpointedProcessor extends Checkpointable {
  process(batch: RecordBatch): Promise<unknown> | unknown;
}

/**
 * Snapshot bytes of one produce request: well under Kafka's default 1 MB message.max.bytes (a produce
 * request carries one record batch per partition, and the limit applies to the batch).
 */
const REQUEST_BYTES = 512 * 1024;
/**
 * Least snapshot bytes encoded after a batch while a checkpoint is spread: about 4 featurizer devices,
 * 0.1-0.2 ms here (bench/checkpoint.ts), and one produce request, not one per stream.
 */
const SLICE_BYTES = 64 * 1024;

/** A checkpoint under way, spread over the batches after it began. */
interface Spread {
  /** The partition's last offset when it began: its marker's. */
  watermark: number;
  /** The streams changed then, each to be written before the marker. */
  keys: string[];
  /** Index in `keys` of the next stream to write. */
  next: number;
  written: number;
  batches: number;
}

/**
 * Writes and restores a processor's checkpoints for a StreamConsumer (the protocol is in checkpoint.ts).
 *
 * A checkpoint taken whole encodes every changed stream of the partition in one synchronous go: the
 * featurizer's 333 devices of a partition at 1,000 phones took 35-120 ms, the p99 latency of every
 * consumer in the process (issue 17, docs/performance.md). So with a processor that offers
 * `changedStreams`/`snapshotStream`, a checkpoint is spread instead: it notes the streams changed when it
 * begins and the partition's last offset, then after each batch of the partition (its outputs
 * acknowledged, so that every record in the state has its outputs out) writes the next few of them, a
 * request at a time with the event loop free between requests, and the marker after the last. Each
 * batch takes at least `sliceBytes` and at least its share of the streams left, so that the checkpoint
 * ends by the time the next is due. The steps run in the partition's batch handler, so they never
 * overlap its processing; in exactly-once mode they are part of the batch's transaction.
 */
export class Checkpointer {
  readonly #interval: number;
  readonly #sliceBytes: number;
  readonly #spreads: boolean;
  /** Input records since the partition's last checkpoint began. */
  readonly #since = new Map<string, number>();
  /** The partition's last offset in the state. */
  readonly #last = new Map<string, number>();
  readonly #spread = new Map<string, Spread>();
  /** A step of a partition's spread checkpoint in flight: a flush waits for it. */
  readonly #busy = new Map<string, Promise<void>>();

  constructor(
    readonly options: CheckpointerOptions,
    readonly processor: CheckpointedProcessor,
    readonly logger: Logger,
  ) {
    this.#interval = options.checkpoint.interval ?? 1000;
    if (!Number.isInteger(this.#interval) || this.#interval < 1)
      throw new InvalidOptionError(`checkpoint interval must be a positive integer, got ${this.#interval}`);
    this.#sliceBytes = options.checkpoint.sliceBytes ?? SLICE_BYTES;
    if (!Number.isInteger(this.#sliceBytes) || this.#sliceBytes < 1)
      throw new InvalidOptionError(
        `checkpoint sliceBytes must be a positive integer (bytes), got ${options.checkpoint.sliceBytes}`,
      );
    this.#spreads = typeof processor.changedStreams === 'function' && typeof processor.snapshotStream === 'function';
  }

  /** After a batch's outputs are acknowledged: the next step of a checkpoint under way, or a new one when due. */
  async afterBatch(producer: Pick<Producer, 'publish'>, batch: RecordBatch): Promise<void> {
    const id = `${batch.topic}/${batch.partition}`;
    const n = batch.records.length;
    const since = (this.#since.get(id) ?? 0) + n;
    this.#since.set(id, since);
    this.#last.set(id, batch.records[n - 1].offset);
    const spread = this.#spread.get(id);
    if (spread) {
      // The batch's share of the streams left: all of them once the next checkpoint is due.
      const left = this.#interval - (since - n);
      const share = n >= left ? Number.POSITIVE_INFINITY : Math.ceil(((spread.keys.length - spread.next) * n) / left);
      await this.#step(producer, id, batch.partition, spread, share);
      if (this.#spread.has(id)) return;
    }
    if (since < this.#interval) return;
    this.#since.set(id, 0);
    if (!this.#spreads) return this.#write(producer, batch.topic, batch.partition);
    const next: Spread = {
      watermark: batch.records[n - 1].offset,
      keys: this.processor.changedStreams!(batch.partition),
      next: 0,
      written: 0,
      batches: 0,
    };
    this.#spread.set(id, next);
    await this.#step(producer, id, batch.partition, next, 0);
  }

  /** A last checkpoint of partitions given up, so that their next owner replays nothing. */
  async flush(producer: Producer, partitions: TopicPartition[]): Promise<void> {
    for (const tp of partitions) {
      const id = `${tp.topic}/${tp.partition}`;
      await this.#busy.get(id);
      // Taken whole: it covers the streams a spread checkpoint had left (they are still changed).
      this.#spread.delete(id);
      if (this.#last.has(id)) await this.#write(producer, tp.topic, tp.partition);
    }
  }

  async #step(
    producer: Pick<Producer, 'publish'>,
    id: string,
    partition: number,
    spread: Spread,
    share: number,
  ): Promise<void> {
    const work = this.#slice(producer, id, partition, spread, share);
    this.#busy.set(
      id,
      work.catch(() => {}),
    );
    try {
      await work;
    } finally {
      this.#busy.delete(id);
    }
  }

  /** Writes the next `share` streams of `spread` (and at least `sliceBytes`), then the marker if none is left. */
  async #slice(
    producer: Pick<Producer, 'publish'>,
    id: string,
    partition: number,
    spread: Spread,
    share: number,
  ): Promise<void> {
    const { topic } = this.options.checkpoint;
    const snapshotStream = this.processor.snapshotStream!.bind(this.processor);
    spread.batches++;
    let streams = 0;
    let bytes = 0;
    let carry: OutgoingRecord | undefined;
    const wanted = () => streams < share || bytes < this.#sliceBytes;
    while (carry || (spread.next < spread.keys.length && wanted())) {
      const request: OutgoingRecord[] = [];
      let size = 0;
      if (carry) {
        request.push(carry);
        size = carry.value.length;
        carry = undefined;
      }
      while (spread.next < spread.keys.length && wanted()) {
        const snap = snapshotStream(spread.keys[spread.next++]);
        if (!snap) continue;
        const record = snapshotRecord(topic, partition, snap);
        streams++;
        bytes += record.value.length;
        if (request.length > 0 && size + record.value.length > REQUEST_BYTES) {
          carry = record;
          break;
        }
        request.push(record);
        size += record.value.length;
      }
      if (request.length > 0) await producer.publish(request);
      spread.written += request.length;
      // Given up (a flush or a restore took over) while the request was out: nothing more of it is written.
      if (this.#spread.get(id) !== spread) return;
      if (carry || (spread.next < spread.keys.length && wanted())) await nextTurn();
      if (this.#spread.get(id) !== spread) return;
    }
    if (spread.next < spread.keys.length) return;
    await producer.publish([markerRecord(topic, partition, spread.watermark)]);
    if (this.#spread.get(id) !== spread) return;
    this.#spread.delete(id);
    this.options.metrics?.checkpoints.inc({ component: this.options.component });
    this.logger.debug(
      { partition, streams: spread.written, watermark: spread.watermark, batches: spread.batches },
      'checkpoint written',
    );
  }

  /** A checkpoint taken whole, at once: snapshots in requests of at most REQUEST_BYTES, then the marker. */
  async #write(producer: Pick<Producer, 'publish'>, topic: string, partition: number): Promise<void> {
    const id = `${topic}/${partition}`;
    const watermark = this.#last.get(id)!;
    const snapshots = this.processor.takeCheckpoint(partition);
    const records = checkpointRecords(this.options.checkpoint.topic, partition, snapshots, watermark);
    // The marker only once all the snapshots are acknowledged.
    let chunk: OutgoingRecord[] = [];
    let bytes = 0;
    for (const r of records.snapshots) {
      if (chunk.length > 0 && bytes + r.value.length > REQUEST_BYTES) {
        await producer.publish(chunk);
        chunk = [];
        bytes = 0;
      }
      chunk.push(r);
      bytes += r.value.length;
    }
    if (chunk.length > 0) await producer.publish(chunk);
    await producer.publish([records.marker]);
    this.#since.set(id, 0);
    this.options.metrics?.checkpoints.inc({ component: this.options.component });
    this.logger.debug({ partition, streams: snapshots.length, watermark }, 'checkpoint written');
  }

  /**
   * Replaces the state of `partitions` with their checkpoint and replays the records after it that the
   * group committed, or up to `redelivered` (exclusive) when that is further: an Event Hubs batch is
   * redelivered whole even after the checkpoint of the one before it failed to be written.
   */
  async restore(partitions: TopicPartition[], redelivered = -1): Promise<void> {
    const { transport, groupId, checkpoint } = this.options;
    for (const tp of partitions) {
      const id = `${tp.topic}/${tp.partition}`;
      // A checkpoint under way is abandoned: the state it was writing is replaced (its marker is never
      // written; the snapshots it wrote are correct states of their streams, and read back below).
      this.#spread.delete(id);
      const started = performance.now();
      const cp = await readCheckpoint(transport, checkpoint.topic, tp.partition);
      this.processor.restore(tp.partition, cp.snapshots);
      const committed = Math.max(
        (await transport.committedOffsets(groupId, tp.topic))[tp.partition] ?? -1,
        redelivered,
      );
      // Records after the last complete checkpoint that the group already committed: their outputs are
      // out, so they only rebuild state.
      let replayed = 0;
      if (committed > cp.watermark + 1) {
        let chunk: ConsumedRecord[] = [];
        // Awaited: an async processor's state is rebuilt before the partition's first live batch, and
        // its failure fails the restore (and so onAssigned) instead of rejecting unhandled.
        const feed = async () => {
          if (chunk.length === 0) return;
          const records = chunk;
          chunk = [];
          await this.processor.process({ topic: tp.topic, partition: tp.partition, records, highWatermark: committed });
          replayed += records.length;
        };
        for await (const r of readPartition(transport, tp.topic, tp.partition, cp.watermark + 1, committed - 1)) {
          chunk.push(r);
          if (chunk.length >= 500) await feed();
        }
        await feed();
      }
      this.#since.set(id, replayed);
      // The state now holds every record before `committed`, and no later one (an earlier #last may be
      // past it: a batch that failed after afterBatch set it); a flush writes what was replayed.
      if (replayed > 0) this.#last.set(id, committed - 1);
      else this.#last.delete(id);
      this.logger.info(
        {
          partition: tp.partition,
          streams: cp.snapshots.length,
          watermark: cp.watermark,
          committed,
          replayed,
          ms: Math.round(performance.now() - started),
        },
        'state restored from checkpoint',
      );
    }
  }
}
