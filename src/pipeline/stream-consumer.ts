import { performance } from 'node:perf_hooks';
import { InvalidOptionError, StoppingError } from '../errors.ts';
import { type Logger, silentLogger } from '../log/logger.ts';
import type { PipelineMetrics } from '../metrics/metrics.ts';
import { TOPICS } from '../topics.ts';
import { readPartition } from '../transport/read.ts';
import type {
  BatchContext,
  ConsumedRecord,
  OutgoingRecord,
  Producer,
  RecordBatch,
  Subscription,
  TopicPartition,
  Transport,
} from '../transport/types.ts';
import { type Checkpointable, type CheckpointOptions, checkpointRecords, readCheckpoint } from './checkpoint.ts';
import { deadLetterOf, type RecordLoop, RecordRejected } from './dead-letter.ts';
import { publishParts } from './publish-parts.ts';

/**
 * What a consume-process-produce consumer does with one batch: turns input
 * records into output records (results and dead letters alike). It throws only
 * for transient failures; the batch is then redelivered.
 */
export interface BatchProcessor {
  /**
   * With `ends`, a processor whose outputs follow its inputs' order pushes the number of outputs so far
   * after each input record (processEach does), so that the consumer can publish them in parts.
   * `context` is the transport's: a processor that has to wait (the predictor before its first model
   * version) heartbeats through it and gives up, throwing, once it is `stopping`.
   */
  process(batch: RecordBatch, ends?: number[], context?: BatchContext): Promise<OutgoingRecord[]> | OutgoingRecord[];
  /** Partitions now owned: restore their state. */
  onAssigned?(partitions: TopicPartition[]): Promise<void> | void;
  /** Partitions given up: drop their state. */
  onRevoked?(partitions: TopicPartition[]): Promise<void> | void;
}

export interface StreamConsumerOptions {
  component: string;
  transport: Transport;
  groupId: string;
  topics: string[];
  processor: BatchProcessor;
  logger?: Logger;
  metrics?: PipelineMetrics;
  /** @defaultValue 500 */
  maxBatchSize?: number;
  /** Checkpoint the processor's state (it must implement Checkpointable). docs/exactly-once.md */
  checkpoint?: CheckpointOptions;
  /** Outputs, checkpoints and input offsets of a batch commit together (transactions). @defaultValue false */
  exactlyOnce?: boolean;
  /** @defaultValue true */
  fromBeginning?: boolean;
  /** Every instance reads everything, nothing is committed (SubscribeOptions.broadcast). @defaultValue false */
  broadcast?: boolean;
  /**
   * Most bytes (keys, values, headers) of one publish: a batch's outputs over it go out in parts, each
   * committed with its inputs. Half of Kafka's default `message.max.bytes` (1 MiB), leaving room for the
   * record batch's framing. @defaultValue 524288 (512 KiB)
   */
  maxPublishBytes?: number;
  /** Where an input record whose own outputs exceed `maxPublishBytes` is dead-lettered. @defaultValue TOPICS.deadLetter */
  deadLetterTopic?: string;
}

const MAX_PUBLISH_BYTES = 512 * 1024;

const keyOf = (tp: TopicPartition) => `${tp.topic}/${tp.partition}`;

/**
 * Wires a processor to the transport with the project's delivery rule: a
 * batch's offsets are committed only after all its outputs are acknowledged
 * by the log (at-least-once; the exactly-once mode wraps the same step in a
 * transaction).
 */
export class StreamConsumer {
  readonly #options: StreamConsumerOptions;
  readonly #logger: Logger;
  #producer: Producer | undefined;
  #subscription: Subscription | undefined;
  readonly #checkpointer: Checkpointer | undefined;
  readonly #maxPublishBytes: number;
  readonly #loop: RecordLoop;
  /** Partitions whose state a failed batch left ahead of their offsets and that could not be put back yet. */
  readonly #unsettled = new Set<string>();

  constructor(options: StreamConsumerOptions) {
    this.#options = options;
    this.#logger = (options.logger ?? silentLogger).child({ component: options.component });
    this.#maxPublishBytes = options.maxPublishBytes ?? MAX_PUBLISH_BYTES;
    if (!Number.isInteger(this.#maxPublishBytes) || this.#maxPublishBytes < 1)
      throw new InvalidOptionError(
        `${options.component}: maxPublishBytes must be a positive integer (bytes), got ${options.maxPublishBytes}`,
      );
    this.#loop = {
      component: options.component,
      deadLetterTopic: options.deadLetterTopic ?? TOPICS.deadLetter,
      logger: this.#logger,
      metrics: options.metrics,
    };
    if (options.checkpoint) {
      const p = options.processor as Partial<Checkpointable>;
      if (typeof p.takeCheckpoint !== 'function' || typeof p.restore !== 'function')
        throw new InvalidOptionError(
          `${options.component}: checkpoint needs a processor that implements Checkpointable`,
        );
      this.#checkpointer = new Checkpointer(
        { ...options, checkpoint: options.checkpoint },
        p as BatchProcessor & Checkpointable,
        this.#logger,
      );
    }
  }

  async start(): Promise<void> {
    const { transport, processor } = this.#options;
    this.#producer = await transport.producer();
    const producer = this.#producer;
    this.#subscription = await transport.subscribe({
      groupId: this.#options.groupId,
      topics: this.#options.topics,
      maxBatchSize: this.#options.maxBatchSize ?? 500,
      exactlyOnce: this.#options.exactlyOnce ?? false,
      fromBeginning: this.#options.fromBeginning ?? true,
      ...(this.#options.broadcast ? { broadcast: true } : {}),
      onAssigned: async (partitions) => {
        this.#logger.info({ partitions }, 'partitions assigned');
        await this.#assign(partitions);
      },
      onRevoked: async (partitions) => {
        this.#logger.info({ partitions }, 'partitions revoked');
        // An unsettled partition's state is not what its offsets say: no checkpoint of it is written.
        const settled = partitions.filter((tp) => !this.#unsettled.delete(keyOf(tp)));
        await this.#checkpointer?.flush(producer, settled);
        await processor.onRevoked?.(partitions);
      },
      handler: async (batch, context) => {
        const tp = { topic: batch.topic, partition: batch.partition };
        const redelivered = batch.records[0].offset;
        if (this.#unsettled.has(keyOf(tp))) await this.#settle(tp, redelivered);
        try {
          await this.#handle(batch, context, producer);
        } catch (err) {
          // process() has applied the batch to the state, and marked its records applied, but the
          // transport hands it (or its uncommitted rest) to this instance again: unless the state is
          // put back first, those records are skipped on redelivery and their outputs never published.
          try {
            await this.#settle(tp, redelivered);
            if (err instanceof StoppingError)
              this.#logger.info(
                { ...tp, offset: redelivered },
                'batch given back on stop, uncommitted, for redelivery',
              );
            else
              this.#logger.warn(
                { err, ...tp, offset: redelivered },
                'batch failed; partition state put back to the committed offset for its redelivery',
              );
          } catch (restoreErr) {
            this.#logger.error(
              { err: restoreErr, ...tp },
              'batch failed and its partition state could not be put back; tried again before its next batch',
            );
          }
          throw err;
        }
      },
    });
    this.#logger.info({ groupId: this.#options.groupId, topics: this.#options.topics }, 'consumer started');
  }

  async #handle(batch: RecordBatch, context: BatchContext, producer: Producer): Promise<void> {
    const { processor, metrics, component } = this.#options;
    const started = performance.now();
    const ends: number[] = [];
    const outputs = await processor.process(batch, ends, context);
    const out = context.publish ? { publish: context.publish } : producer;
    // A publish is one produce request, which a Kafka broker refuses whole, and for good, over its
    // message.max.bytes (1 MiB): a featurizer batch of 170 vectors after a broker restart was, and was
    // redelivered forever (broker-restart suite under load). Splitting the request inside the adapter
    // let half a publish succeed before a replay repeated it (103 duplicate dead letters), so the cut
    // is made here, at input-record boundaries: each part is published, then committed with its inputs
    // (in its own transaction with exactlyOnce), and a replay starts after the last acknowledged part.
    // The checkpoint comes after the last part, when every output of the state it saves is out.
    const parts = publishParts(batch.records, outputs, ends, this.#maxPublishBytes, (record, bytes) =>
      deadLetterOf(
        this.#loop,
        record,
        new RecordRejected(
          'output-too-large',
          `its outputs are ${bytes} bytes, over the ${this.#maxPublishBytes} bytes one publish may carry (maxPublishBytes)`,
        ),
      ),
    );
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (part.records.length > 0) await out.publish(part.records);
      if (i < parts.length - 1) await context.commit?.(part.lastOffset);
    }
    await this.#checkpointer?.afterBatch(out, batch);
    if (metrics) {
      metrics.recordsIn.inc({ component, topic: batch.topic }, batch.records.length);
      for (const part of parts) for (const out of part.records) metrics.recordsOut.inc({ component, topic: out.topic });
      const last = batch.records[batch.records.length - 1];
      metrics.consumerLag.set(
        { component, topic: batch.topic, partition: String(batch.partition) },
        Math.max(0, batch.highWatermark - last.offset - 1),
      );
      metrics.batchSeconds.observe({ component }, (performance.now() - started) / 1000);
    }
  }

  /**
   * The state of partitions now owned: restored from the checkpoint and the records the group committed
   * after it, or (with `redelivered`, the first offset the transport hands out again) up to that offset
   * when it is further.
   */
  async #assign(partitions: TopicPartition[], redelivered?: number): Promise<void> {
    await this.#checkpointer?.restore(partitions, redelivered);
    await this.#options.processor.onAssigned?.(partitions);
  }

  /**
   * After a failed batch, the partition's state as a rebalance that took the partition away and gave it
   * back would leave it: dropped, then restored as on assignment, so that it matches the offset its
   * redelivery starts from. Without a checkpoint the state is rebuilt from the redelivered records (a
   * featurizer starts the windows of their devices afresh). Until this succeeds the partition is
   * unsettled: its next batch tries again first, and a revoke writes no checkpoint of it.
   */
  async #settle(tp: TopicPartition, redelivered: number): Promise<void> {
    this.#unsettled.add(keyOf(tp));
    await this.#options.processor.onRevoked?.([tp]);
    await this.#assign([tp], redelivered);
    this.#unsettled.delete(keyOf(tp));
  }

  assignments(): TopicPartition[] {
    return this.#subscription?.assignments() ?? [];
  }

  /** Lets the running batch finish and commit, then leaves the group. */
  async stop(): Promise<void> {
    await this.#subscription?.stop();
    await this.#producer?.close();
    this.#subscription = undefined;
    this.#producer = undefined;
    this.#logger.info('consumer stopped');
  }
}

const CHECKPOINT_REQUEST_BYTES = 512 * 1024;

/** Writes and restores a processor's checkpoints for a StreamConsumer (the protocol is in checkpoint.ts). */
class Checkpointer {
  readonly #interval: number;
  readonly #since = new Map<string, number>();
  readonly #last = new Map<string, number>();

  constructor(
    readonly options: StreamConsumerOptions & { checkpoint: CheckpointOptions },
    readonly processor: BatchProcessor & Checkpointable,
    readonly logger: Logger,
  ) {
    this.#interval = options.checkpoint.interval ?? 1000;
    if (!Number.isInteger(this.#interval) || this.#interval < 1)
      throw new InvalidOptionError(`checkpoint interval must be a positive integer, got ${this.#interval}`);
  }

  async afterBatch(producer: Pick<Producer, 'publish'>, batch: RecordBatch): Promise<void> {
    const id = `${batch.topic}/${batch.partition}`;
    const since = (this.#since.get(id) ?? 0) + batch.records.length;
    this.#last.set(id, batch.records[batch.records.length - 1].offset);
    if (since < this.#interval) {
      this.#since.set(id, since);
      return;
    }
    await this.#write(producer, batch.topic, batch.partition);
  }

  /** A last checkpoint of partitions given up, so that their next owner replays nothing. */
  async flush(producer: Producer, partitions: TopicPartition[]): Promise<void> {
    for (const tp of partitions)
      if (this.#last.has(`${tp.topic}/${tp.partition}`)) await this.#write(producer, tp.topic, tp.partition);
  }

  async #write(producer: Pick<Producer, 'publish'>, topic: string, partition: number): Promise<void> {
    const id = `${topic}/${partition}`;
    const watermark = this.#last.get(id)!;
    const snapshots = this.processor.takeCheckpoint(partition);
    const records = checkpointRecords(this.options.checkpoint.topic, partition, snapshots, watermark);
    // Snapshots first, in requests well under Kafka's default 1 MB message.max.bytes (a produce request
    // carries one record batch per partition, and the limit applies to the batch); the marker only once
    // they are all acknowledged.
    let chunk: OutgoingRecord[] = [];
    let bytes = 0;
    for (const r of records.snapshots) {
      if (chunk.length > 0 && bytes + r.value.length > CHECKPOINT_REQUEST_BYTES) {
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
      const id = keyOf(tp);
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
