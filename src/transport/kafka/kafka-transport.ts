import { type Kafka, type Producer as KafkaProducer, Partitioners } from 'kafkajs';
import { type Logger, silentLogger } from '../../log/logger.ts';
import type {
  ConsumedRecord,
  OutgoingRecord,
  Producer,
  SubscribeOptions,
  Subscription,
  TopicSpec,
  Transport,
} from '../types.ts';
import { KafkaAdmin } from './admin.ts';
import { connect, createKafka, within } from './clients.ts';
import { KAFKA_DEFAULTS, type KafkaOptions, PUBLISH_RETRY, validateKafkaOptions } from './options.ts';
import { publishError } from './publish-error.ts';
import { readRange } from './read-range.ts';
import { topicMessages } from './records.ts';
import { subscribe } from './subscription.ts';

export interface KafkaTransportOptions extends KafkaOptions {
  logger?: Logger;
}

/**
 * The transport port on Apache Kafka (or any Kafka-protocol endpoint, such as Event Hubs'), through kafkajs.
 * Split by responsibility: records.ts (conversions), admin.ts (topics, offsets), subscription.ts (group
 * members and their hooks), read-range.ts, transactions.ts (exactly-once), clients.ts (the kafkajs client).
 */
export class KafkaTransport implements Transport {
  readonly kind = 'kafka';
  readonly #kafka: Kafka;
  readonly #options: KafkaOptions;
  readonly #logger: Logger;
  readonly #admin: KafkaAdmin;
  readonly #closers = new Set<() => Promise<void>>();

  constructor(options: KafkaTransportOptions) {
    this.#options = validateKafkaOptions(options);
    this.#logger = (options.logger ?? silentLogger).child({ component: 'kafka-transport' });
    this.#kafka = createKafka(options, this.#logger);
    this.#admin = new KafkaAdmin(this.#kafka, this.#options.replicationFactor, this.#options);
  }

  ensureTopics(specs: TopicSpec[]): Promise<void> {
    return this.#admin.ensureTopics(specs);
  }

  async producer(): Promise<Producer> {
    const producer: KafkaProducer = this.#kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      // Rides out a broker restart or a leader move (about a minute of retries) before a publish fails.
      retry: PUBLISH_RETRY,
    });
    await connect(producer, this.#options);
    const close = () => producer.disconnect();
    this.#closers.add(close);
    return {
      publish: async (records: OutgoingRecord[]) => {
        if (records.length === 0) return;
        await this.#admin.requireTopics(records);
        try {
          await producer.sendBatch({ acks: -1, topicMessages: topicMessages(records) });
        } catch (err) {
          throw publishError(err, records);
        }
      },
      close: async () => {
        this.#closers.delete(close);
        await within(this.#logger, producer.disconnect(), 30_000, {}, 'producer did not disconnect in time');
      },
    };
  }

  subscribe(options: SubscribeOptions): Promise<Subscription> {
    return subscribe(this.#kafka, options, {
      logger: this.#logger,
      sessionTimeoutMs: this.#options.sessionTimeoutMs ?? KAFKA_DEFAULTS.sessionTimeoutMs,
      target: this.#options,
      closers: this.#closers,
      deleteGroup: (groupId) => this.#admin.deleteGroup(groupId),
    });
  }

  readRange(topic: string, partition: number, from: number, to: number): Promise<ConsumedRecord[]> {
    return readRange(this.#kafka, this.#admin, topic, partition, from, to);
  }

  endOffsets(topic: string): Promise<number[]> {
    return this.#admin.endOffsets(topic);
  }

  committedOffsets(groupId: string, topic: string): Promise<number[]> {
    return this.#admin.committedOffsets(groupId, topic);
  }

  async close(): Promise<void> {
    const closers = [...this.#closers];
    this.#closers.clear();
    // The admin client last: a broadcast subscription deletes its group through it as it stops.
    await Promise.allSettled(closers.map((close) => close()));
    await this.#admin.close();
  }
}
