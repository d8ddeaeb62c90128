import { performance } from 'node:perf_hooks';
import { InvalidOptionError, StoppingError } from '../errors.ts';
import { type Logger, silentLogger } from '../log/logger.ts';
import type { PipelineMetrics } from '../metrics/metrics.ts';
import { TOPICS } from '../topics.ts';
import type {
  BatchContext,
  OutgoingRecord,
  Producer,
  RecordBatch,
  Subscription,
  TopicPartition,
  Transport,
} from '../transport/types.ts';
import type { Checkpointable, CheckpointOptions } from './checkpoint.ts';
import { Checkpointer } from './checkpointer.ts';
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
