import { performance } from 'node:perf_hooks';
import { type Logger, silentLogger } from '../log/logger.ts';
import type { PipelineMetrics } from '../metrics/metrics.ts';
import type {
  OutgoingRecord,
  Producer,
  RecordBatch,
  Subscription,
  TopicPartition,
  Transport,
} from '../transport/types.ts';

/**
 * What a consume-process-produce consumer does with one batch: turns input
 * records into output records (results and dead letters alike). It throws only
 * for transient failures; the batch is then redelivered.
 */
export interface BatchProcessor {
  process(batch: RecordBatch): Promise<OutgoingRecord[]> | OutgoingRecord[];
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
}

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

  constructor(options: StreamConsumerOptions) {
    this.#options = options;
    this.#logger = (options.logger ?? silentLogger).child({ component: options.component });
  }

  async start(): Promise<void> {
    const { transport, processor, metrics, component } = this.#options;
    this.#producer = await transport.producer();
    const producer = this.#producer;
    this.#subscription = await transport.subscribe({
      groupId: this.#options.groupId,
      topics: this.#options.topics,
      maxBatchSize: this.#options.maxBatchSize ?? 500,
      onAssigned: async (partitions) => {
        this.#logger.info({ partitions }, 'partitions assigned');
        await processor.onAssigned?.(partitions);
      },
      onRevoked: async (partitions) => {
        this.#logger.info({ partitions }, 'partitions revoked');
        await processor.onRevoked?.(partitions);
      },
      handler: async (batch) => {
        const started = performance.now();
        const outputs = await processor.process(batch);
        if (outputs.length > 0) await producer.publish(outputs);
        if (metrics) {
          metrics.recordsIn.inc({ component, topic: batch.topic }, batch.records.length);
          for (const out of outputs) metrics.recordsOut.inc({ component, topic: out.topic });
          const last = batch.records[batch.records.length - 1];
          metrics.consumerLag.set(
            { component, topic: batch.topic, partition: String(batch.partition) },
            Math.max(0, batch.highWatermark - last.offset - 1),
          );
          metrics.batchSeconds.observe({ component }, (performance.now() - started) / 1000);
        }
      },
    });
    this.#logger.info({ groupId: this.#options.groupId, topics: this.#options.topics }, 'consumer started');
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
