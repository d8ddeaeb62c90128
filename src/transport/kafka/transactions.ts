import { type Kafka, type Producer as KafkaProducer, Partitioners } from 'kafkajs';
import type { OutgoingRecord, TopicPartition } from '../types.ts';
import { PUBLISH_RETRY } from './options.ts';
import { publishError } from './publish-error.ts';
import { topicMessages } from './records.ts';

/**
 * kafkajs implements the transactional model before KIP-447: offsets are sent
 * with the group id, and a zombie is fenced only by a producer with the same
 * transactional id. So each input partition gets its own transactional id,
 * `<group>.<topic>.<partition>`: the instance that takes the partition over
 * fences the one that had it (docs/exactly-once.md).
 */
export class TransactionalProducers {
  readonly #producers = new Map<string, Promise<KafkaProducer>>();

  constructor(
    readonly kafka: Kafka,
    readonly groupId: string,
  ) {}

  #producer(tp: TopicPartition): Promise<KafkaProducer> {
    const id = `${this.groupId}.${tp.topic}.${tp.partition}`;
    let producer = this.#producers.get(id);
    if (!producer) {
      producer = (async () => {
        const p = this.kafka.producer({
          transactionalId: id,
          idempotent: true,
          retry: PUBLISH_RETRY,
          maxInFlightRequests: 1,
          allowAutoTopicCreation: false,
          createPartitioner: Partitioners.DefaultPartitioner,
        });
        await p.connect();
        return p;
      })();
      this.#producers.set(id, producer);
      producer.catch(() => this.#producers.delete(id));
    }
    return producer;
  }

  /**
   * Runs the handler in a transaction that commits its records and the offsets `next`, or aborts. The
   * handler's `commit(offset)` commits the transaction so far with the offsets up to `offset` and opens
   * the next one, so that a batch published in parts commits each part with its inputs.
   */
  async run(
    tp: TopicPartition,
    next: { topic: string; partition: number; offset: string }[],
    handler: (
      publish: (records: OutgoingRecord[]) => Promise<void>,
      commit: (offset: number) => Promise<void>,
    ) => Promise<void>,
  ): Promise<void> {
    const producer = await this.#producer(tp);
    let txn = await producer.transaction();
    const commitAt = async (offsets: { partition: number; offset: string }[]) => {
      await txn.sendOffsets({ consumerGroupId: this.groupId, topics: [{ topic: tp.topic, partitions: offsets }] });
      await txn.commit();
    };
    try {
      await handler(
        async (records) => {
          if (records.length === 0) return;
          try {
            await txn.sendBatch({ acks: -1, topicMessages: topicMessages(records) });
          } catch (err) {
            throw publishError(err, records);
          }
        },
        async (offset) => {
          await commitAt([{ partition: tp.partition, offset: String(offset + 1) }]);
          txn = await producer.transaction();
        },
      );
      await commitAt(next.map((n) => ({ partition: n.partition, offset: n.offset })));
    } catch (err) {
      if (txn.isActive()) await txn.abort().catch(() => {});
      throw err;
    }
  }

  async release(tp: TopicPartition): Promise<void> {
    const id = `${this.groupId}.${tp.topic}.${tp.partition}`;
    const producer = this.#producers.get(id);
    this.#producers.delete(id);
    await (await producer?.catch(() => undefined))?.disconnect();
  }

  async close(): Promise<void> {
    const all = [...this.#producers.values()];
    this.#producers.clear();
    for (const p of all) await (await p.catch(() => undefined))?.disconnect();
  }
}
