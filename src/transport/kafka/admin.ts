import type { Admin, Kafka } from 'kafkajs';
import { TransportError } from '../../errors.ts';
import { retryRetriable } from '../../retry.ts';
import { missingTopicError } from '../missing-topic.ts';
import type { OutgoingRecord, TopicSpec } from '../types.ts';
import { connect } from './clients.ts';
import { type ConnectTarget, TRANSIENT } from './connect-error.ts';

/**
 * Calls an admin read, retrying transient failures (TRANSIENT, and what kafkajs marks retriable): a
 * consumer's drain or a lag check rides out a broker restart.
 */
function adminRead<T>(call: () => Promise<T>): Promise<T> {
  return retryRetriable(() =>
    call().catch((err: unknown) => {
      const name = (err as { name?: string }).name;
      if (name && TRANSIENT.has(name))
        throw new TransportError(`Kafka not reachable: ${(err as Error).message}`, { cause: err, retriable: true });
      throw err;
    }),
  );
}

/**
 * The transport's one admin client, connected on first use: topics, offsets, and the throw-away groups
 * of readRange.
 */
export class KafkaAdmin {
  readonly #kafka: Kafka;
  readonly #replicationFactor: number;
  readonly #target: ConnectTarget;
  #admin: Promise<Admin> | undefined;
  readonly #knownTopics = new Set<string>();

  constructor(kafka: Kafka, replicationFactor: number, target: ConnectTarget) {
    this.#kafka = kafka;
    this.#replicationFactor = replicationFactor;
    this.#target = target;
  }

  #client(): Promise<Admin> {
    this.#admin ??= (async () => {
      const admin = this.#kafka.admin();
      try {
        await connect(admin, this.#target);
      } catch (err) {
        // Not kept: the next call connects again rather than failing on a broker that is back.
        this.#admin = undefined;
        throw err;
      }
      return admin;
    })();
    return this.#admin;
  }

  async ensureTopics(specs: TopicSpec[]): Promise<void> {
    const admin = await this.#client();
    // Another client may create the same topics at the same time, and right after creation the
    // metadata of a new topic can lag (UNKNOWN_TOPIC_OR_PARTITION): both are retried, and a topic
    // that exists by then is left as it is.
    await retryRetriable(async () => {
      const existing = new Set(await admin.listTopics());
      const missing = specs.filter((spec) => !existing.has(spec.topic));
      if (missing.length === 0) return;
      try {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((spec) => ({
            topic: spec.topic,
            numPartitions: spec.partitions ?? 3,
            replicationFactor: this.#replicationFactor,
            configEntries: [
              ...(spec.compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : []),
              ...(spec.retentionMs !== undefined ? [{ name: 'retention.ms', value: String(spec.retentionMs) }] : []),
            ],
          })),
        });
      } catch (err) {
        const e = err as { type?: string };
        if (e.type === 'TOPIC_ALREADY_EXISTS') throw new TransportError('topic created meanwhile', { cause: err });
        throw err;
      }
      // KRaft answers the creation before every listener's metadata has the topic: a publish right
      // after it once found it missing (the SASL_SSL suite, fresh-clone CI). Wait until it is listed.
      for (let attempt = 0; ; attempt++) {
        const listed = new Set(await admin.listTopics());
        if (missing.every((spec) => listed.has(spec.topic))) break;
        if (attempt >= 50)
          throw new TransportError(`created topics not listed after 5 s: ${missing.map((m) => m.topic).join(', ')}`, {
            retriable: true,
          });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });
    for (const spec of specs) this.#knownTopics.add(spec.topic);
  }

  /**
   * A publish to a topic that does not exist fails at once with a clear error, instead of after the
   * minute of retries that ride out a broker restart (kafkajs retries unknown topics as transient).
   */
  async requireTopics(records: OutgoingRecord[]): Promise<void> {
    const unknown = new Set<string>();
    for (const r of records) if (!this.#knownTopics.has(r.topic)) unknown.add(r.topic);
    await this.#require(unknown);
  }

  /** Throws the port's missing-topic error (src/transport/missing-topic.ts) for the first topic that does not exist. */
  async #require(topics: ReadonlySet<string>): Promise<void> {
    if (topics.size === 0) return;
    const admin = await this.#client();
    const existing = new Set(await adminRead(() => admin.listTopics()));
    for (const topic of topics) {
      if (!existing.has(topic))
        throw missingTopicError(topic, 'create the topics first (activity-tracking topics create)');
      this.#knownTopics.add(topic);
    }
  }

  /**
   * A topic that does not exist is the port's missing-topic error at once: kafkajs would retry its
   * metadata for about 35 s, logging "This server does not host this topic-partition" at error level.
   */
  async endOffsets(topic: string): Promise<number[]> {
    if (!this.#knownTopics.has(topic)) await this.#require(new Set([topic]));
    const admin = await this.#client();
    const offsets = await adminRead(() => admin.fetchTopicOffsets(topic));
    const out: number[] = [];
    for (const o of offsets) out[o.partition] = Number(o.high);
    return out;
  }

  async committedOffsets(groupId: string, topic: string): Promise<number[]> {
    const admin = await this.#client();
    const [entry] = await adminRead(() => admin.fetchOffsets({ groupId, topics: [topic] }));
    const out: number[] = [];
    for (const p of entry?.partitions ?? []) out[p.partition] = Number(p.offset);
    return out;
  }

  /**
   * Deletes a group; best effort, never throws (a throw-away group that outlives us is harmless: with
   * no committed offsets the broker drops it by itself).
   */
  async deleteGroup(groupId: string): Promise<void> {
    try {
      const admin = await this.#client();
      await admin.deleteGroups([groupId]);
    } catch {
      // The broker down, or the group not empty yet: left to the broker.
    }
  }

  /** Disconnects; the next call connects again. */
  async close(): Promise<void> {
    const admin = this.#admin;
    this.#admin = undefined;
    if (admin) await (await admin).disconnect();
  }
}
