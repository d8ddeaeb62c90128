import { randomUUID } from 'node:crypto';
import {
  type Admin,
  type Consumer,
  type IHeaders,
  Kafka,
  type KafkaMessage,
  type Producer as KafkaProducer,
  logLevel,
  Partitioners,
  type TopicMessages,
} from 'kafkajs';
import { ServiceUnavailableError, TimeoutError, TransportError } from '../../errors.ts';
import { type Logger, silentLogger } from '../../log/logger.ts';
import { isRetriable, retryRetriable } from '../../retry.ts';
import type {
  BatchContext,
  ConsumedRecord,
  Headers,
  OutgoingRecord,
  Producer,
  SubscribeOptions,
  Subscription,
  TopicPartition,
  TopicSpec,
  Transport,
} from '../types.ts';
import { type KafkaOptions, validateKafkaOptions } from './options.ts';

export interface KafkaTransportOptions extends KafkaOptions {
  logger?: Logger;
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

function toHeaders(raw: IHeaders | undefined): Headers {
  const headers: Headers = {};
  if (!raw) return headers;
  for (const name in raw) {
    const value = raw[name];
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    headers[name] = typeof first === 'string' ? first : first.toString('utf8');
  }
  return headers;
}

function toRecord(topic: string, partition: number, message: KafkaMessage): ConsumedRecord {
  return {
    topic,
    partition,
    offset: Number(message.offset),
    key: message.key === null ? null : message.key.toString('utf8'),
    value: message.value ?? Buffer.alloc(0),
    headers: toHeaders(message.headers),
    timestamp: Number(message.timestamp),
  };
}

/**
 * kafkajs errors that mean "the cluster is not reachable right now" (a broker restarting, a coordinator
 * moving) but that kafkajs marks non-retriable once its own retries are spent: the admin reads retry
 * them again rather than failing a consumer's drain or a lag check on a broker restart.
 */
const TRANSIENT = new Set([
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSBrokerNotFound',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
]);

/**
 * Connects a kafkajs client; a cluster that cannot be reached once kafkajs's connection retries are spent
 * becomes a ServiceUnavailableError with one line that names the brokers and the setting to check (the CLI
 * exits 69 on it), instead of kafkajs's retry error and its stack.
 */
async function connect(client: { connect(): Promise<void> }, brokers: readonly string[]): Promise<void> {
  try {
    await client.connect();
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (!name || !TRANSIENT.has(name)) throw err;
    let root: unknown = err;
    while ((root as { cause?: unknown }).cause instanceof Error) root = (root as { cause: Error }).cause;
    throw new ServiceUnavailableError(
      `Kafka brokers ${brokers.join(',')} are not reachable (${(root as Error).message}); check KAFKA_BROKERS and that the brokers run (KAFKA_RETRIES sets how long to retry)`,
      { cause: err, context: { brokers } },
    );
  }
}

/** Calls an admin read, retrying transient failures (TRANSIENT, and what kafkajs marks retriable). */
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

const PUBLISH_RETRY = { retries: 15, initialRetryTime: 300, maxRetryTime: 5000 };

function topicMessages(records: OutgoingRecord[]): TopicMessages[] {
  const byTopic = new Map<string, OutgoingRecord[]>();
  for (const record of records) {
    const list = byTopic.get(record.topic);
    if (list) list.push(record);
    else byTopic.set(record.topic, [record]);
  }
  return [...byTopic].map(([topic, list]) => ({
    topic,
    messages: list.map((r) => ({
      key: r.key,
      value: r.value,
      ...(r.headers ? { headers: r.headers } : {}),
      ...(r.partition !== undefined ? { partition: r.partition } : {}),
    })),
  }));
}

/** The transport port on Apache Kafka (or any Kafka-protocol endpoint, such as Event Hubs'), through kafkajs. */
export class KafkaTransport implements Transport {
  readonly kind = 'kafka';
  readonly #kafka: Kafka;
  readonly #options: KafkaOptions;
  readonly #logger: Logger;
  #admin: Promise<Admin> | undefined;
  readonly #closers = new Set<() => Promise<void>>();

  constructor(options: KafkaTransportOptions) {
    this.#options = validateKafkaOptions(options);
    this.#logger = (options.logger ?? silentLogger).child({ component: 'kafka-transport' });
    const logger = this.#logger;
    this.#kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      ssl: options.ssl,
      ...(options.sasl ? { sasl: options.sasl as never } : {}),
      connectionTimeout: options.connectionTimeoutMs,
      // Metadata and connection retries of every client (10: about 35 s, long enough for a broker restart).
      retry: { retries: options.retries ?? 10, initialRetryTime: 300, maxRetryTime: 5000 },
      logLevel: logLevel.WARN,
      logCreator:
        () =>
        ({ level, log }) => {
          const { message, ...rest } = log;
          logger[LEVELS[level] ?? 'info']({ kafkajs: rest }, message);
        },
    });
  }

  #adminClient(): Promise<Admin> {
    this.#admin ??= (async () => {
      const admin = this.#kafka.admin();
      try {
        await connect(admin, this.#options.brokers);
      } catch (err) {
        // Not kept: the next call connects again rather than failing on a broker that is back.
        this.#admin = undefined;
        throw err;
      }
      this.#closers.add(() => admin.disconnect());
      return admin;
    })();
    return this.#admin;
  }

  async ensureTopics(specs: TopicSpec[]): Promise<void> {
    const admin = await this.#adminClient();
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
            replicationFactor: this.#options.replicationFactor,
            configEntries: [
              ...(spec.compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : []),
              ...(spec.retentionMs !== undefined ? [{ name: 'retention.ms', value: String(spec.retentionMs) }] : []),
            ],
          })),
        });
      } catch (err) {
        const e = err as { type?: string; retriable?: boolean };
        if (e.type === 'TOPIC_ALREADY_EXISTS')
          throw Object.assign(new Error('topic created meanwhile'), { retriable: true });
        throw err;
      }
    });
  }

  readonly #knownTopics = new Set<string>();

  /**
   * A publish to a topic that does not exist fails at once with a clear error, instead of after the
   * minute of retries that ride out a broker restart (kafkajs retries unknown topics as transient).
   */
  async #requireTopics(records: OutgoingRecord[]): Promise<void> {
    const unknown = new Set<string>();
    for (const r of records) if (!this.#knownTopics.has(r.topic)) unknown.add(r.topic);
    if (unknown.size === 0) return;
    const admin = await this.#adminClient();
    const existing = new Set(await retryRetriable(() => admin.listTopics()));
    for (const topic of unknown) {
      if (!existing.has(topic))
        throw new TransportError(
          `topic "${topic}" does not exist; create the topics first (activity-tracking topics create)`,
          { retriable: false, context: { topic } },
        );
      this.#knownTopics.add(topic);
    }
  }

  async producer(): Promise<Producer> {
    const producer: KafkaProducer = this.#kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      // Rides out a broker restart or a leader move (about a minute of retries) before a publish fails.
      retry: PUBLISH_RETRY,
    });
    await connect(producer, this.#options.brokers);
    const close = () => producer.disconnect();
    this.#closers.add(close);
    return {
      publish: async (records: OutgoingRecord[]) => {
        if (records.length === 0) return;
        await this.#requireTopics(records);
        try {
          await producer.sendBatch({ acks: -1, topicMessages: topicMessages(records) });
        } catch (err) {
          // Retriable when the broker was unreachable or a leader moved: the caller may publish again.
          throw new TransportError(`publishing ${records.length} records failed: ${(err as Error).message}`, {
            cause: err,
            retriable: isRetriable(err),
          });
        }
      },
      close: async () => {
        this.#closers.delete(close);
        await this.#within(producer.disconnect(), 30_000, {}, 'producer did not disconnect in time');
      },
    };
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    const sessionTimeout = this.#options.sessionTimeoutMs ?? 30_000;
    const consumer = this.#kafka.consumer({
      groupId: options.broadcast ? `${options.groupId}-${randomUUID()}` : options.groupId,
      allowAutoTopicCreation: false,
      sessionTimeout,
      heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 10)),
      retry: {
        // A failed batch restarts the consumer from the committed offsets: at-least-once redelivery.
        restartOnFailure: async (err) => {
          this.#logger.warn({ err, group: options.groupId }, 'consumer failed; restarting from committed offsets');
          return true;
        },
      },
    });
    const maxBatch = options.maxBatchSize ?? 500;
    const transactional = options.exactlyOnce ? new TransactionalProducers(this.#kafka, options.groupId) : undefined;
    let owned: TopicPartition[] = [];
    let ready: Promise<void> = Promise.resolve();
    let stopping = false;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const next = Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) =>
        partitions.map((partition) => ({ topic, partition })),
      );
      const keyOf = (tp: TopicPartition) => `${tp.topic}/${tp.partition}`;
      const before = new Set(owned.map(keyOf));
      const after = new Set(next.map(keyOf));
      const revoked = owned.filter((tp) => !after.has(keyOf(tp)));
      const assigned = next.filter((tp) => !before.has(keyOf(tp)));
      owned = next;
      // Batches wait for these hooks: state is restored before the first record of a new partition.
      ready = ready.then(async () => {
        if (revoked.length > 0 && options.onRevoked) await options.onRevoked(revoked);
        if (transactional) for (const tp of revoked) await transactional.release(tp);
        if (assigned.length > 0 && options.onAssigned) await options.onAssigned(assigned);
      });
    });
    // A fetch that held only transaction markers or aborted records never reaches the handler; its
    // offsets are committed here, or a group reading a transactional topic would never catch up with
    // the end offset (the commit marker after the last record has an offset of its own).
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.batchSize !== 0 || stopping) return;
      const offset = String(Number(payload.lastOffset) + 1);
      consumer.commitOffsets([{ topic: payload.topic, partition: payload.partition, offset }]).catch((err: unknown) => {
        this.#logger.debug(
          { err, group: options.groupId },
          'commit past transaction markers failed; retried on the next fetch',
        );
      });
    });
    await connect(consumer, this.#options.brokers);
    await consumer.subscribe({ topics: options.topics, fromBeginning: options.fromBeginning ?? true });
    const runConfig: Parameters<typeof consumer.run>[0] = {
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
        await ready;
        const context: BatchContext = {
          get stopping() {
            return stopping || !isRunning();
          },
          heartbeat,
        };
        const all = batch.messages;
        for (let start = 0; start < all.length; start += maxBatch) {
          if (!isRunning() || isStale()) return;
          const slice = all.slice(start, start + maxBatch);
          const records = slice.map((m) => toRecord(batch.topic, batch.partition, m));
          const input = {
            topic: batch.topic,
            partition: batch.partition,
            records,
            highWatermark: Number(batch.highWatermark),
          };
          const last = records[records.length - 1].offset;
          // The fetch's last slice commits past any transaction markers after its last record: kafkajs
          // moves its position beyond them and never fetches them again (batch.lastOffset() counts them).
          const end = start + maxBatch >= all.length ? Math.max(last, Number(batch.lastOffset())) : last;
          const next = [{ topic: batch.topic, partition: batch.partition, offset: String(end + 1) }];
          if (transactional) {
            await transactional.run(batch, next, (publish) => options.handler(input, { ...context, publish }));
          } else {
            await options.handler(input, context);
            await consumer.commitOffsets(next);
          }
          resolveOffset(String(end));
          await heartbeat();
        }
      },
    };
    await consumer.run(runConfig);
    // kafkajs restarts a crashed consumer only when the error is retriable; a broker restart can crash it
    // with "Failed to find group coordinator", which kafkajs marks final, leaving the subscription silently
    // dead (the broker-restart suite then waited forever in CI). Such a consumer is started again here,
    // from the committed offsets, until the subscription is stopped.
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.#logger.warn(
        { err: payload.error, group: options.groupId, restart: payload.restart },
        'consumer crashed; it restarts from the committed offsets',
      );
      if (payload.restart || stopping) return;
      const restart = () => {
        if (stopping) return;
        consumer
          .connect()
          .then(() => consumer.run(runConfig))
          .catch((err: unknown) => {
            this.#logger.warn({ err, group: options.groupId }, 'restarting the consumer failed; trying again');
            setTimeout(restart, 2000);
          });
      };
      setTimeout(restart, 1000);
    });
    const close = async () => {
      stopping = true;
      await this.#disconnect(consumer, options.groupId, sessionTimeout);
      if (owned.length > 0 && options.onRevoked) await options.onRevoked(owned);
      await transactional?.close();
      owned = [];
    };
    this.#closers.add(close);
    return {
      stop: async () => {
        this.#closers.delete(close);
        await close();
      },
      assignments: () => [...owned],
    };
  }

  /**
   * Leaves the group, but not forever: the broker-restart suite once hung in CI on a stop right after a
   * broker restart (not reproduced since; a kafkajs consumer asked to disconnect while it recovers is the
   * suspect). Past the session timeout the group has evicted the member anyway.
   */
  async #disconnect(consumer: Consumer, group: string, sessionTimeout: number): Promise<void> {
    await this.#within(
      consumer.disconnect(),
      sessionTimeout + 15_000,
      { group },
      'consumer did not disconnect in time',
    );
  }

  /** Waits for a client's disconnect at most `ms`, then logs it and goes on (a stop must not hang). */
  async #within(done: Promise<void>, ms: number, context: Record<string, unknown>, message: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), ms);
    });
    const outcome = await Promise.race([done.then(() => 'ok' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') this.#logger.error({ ...context, ms }, message);
  }

  async readRange(topic: string, partition: number, from: number, to: number): Promise<ConsumedRecord[]> {
    if (to < from) return [];
    const [end] = [(await this.endOffsets(topic))[partition]];
    if (end === undefined)
      throw new TransportError(`partition ${partition} out of range for topic "${topic}"`, { retriable: false });
    const last = Math.min(to, end - 1);
    if (last < from) return [];
    const groupId = `activity-tracking-read-${randomUUID()}`;
    const consumer = this.#kafka.consumer({ groupId, allowAutoTopicCreation: false });
    const out: ConsumedRecord[] = [];
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      let finish!: () => void;
      const finished = new Promise<void>((resolve) => {
        finish = resolve;
      });
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        const others = (payload.memberAssignment[topic] ?? []).filter((p) => p !== partition);
        if (others.length > 0) consumer.pause([{ topic, partitions: others }]);
      });
      // Transaction markers have offsets but are never delivered: the read is done when the consumer's
      // position passes `last`, whether the record there is data or a marker.
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        if (payload.partition === partition && Number(payload.lastOffset) >= last) finish();
      });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          if (batch.partition !== partition) return;
          for (const message of batch.messages) {
            const offset = Number(message.offset);
            if (offset < from) continue;
            if (offset > last) break;
            out.push(toRecord(topic, partition, message));
          }
          if (Number(batch.lastOffset()) >= last) finish();
        },
      });
      consumer.seek({ topic, partition, offset: String(from) });
      const timeoutMs = 30_000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        finished,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(new TimeoutError(`reading ${topic}/${partition} [${from}, ${last}] took over ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]).finally(() => clearTimeout(timer));
    } finally {
      await consumer.disconnect();
      const admin = await this.#adminClient();
      await admin.deleteGroups([groupId]).catch(() => {});
    }
    // Compacted topics may have holes; callers get what the log still holds, in order.
    return out;
  }

  async endOffsets(topic: string): Promise<number[]> {
    const admin = await this.#adminClient();
    const offsets = await adminRead(() => admin.fetchTopicOffsets(topic));
    const out: number[] = [];
    for (const o of offsets) out[o.partition] = Number(o.high);
    return out;
  }

  async committedOffsets(groupId: string, topic: string): Promise<number[]> {
    const admin = await this.#adminClient();
    const [entry] = await adminRead(() => admin.fetchOffsets({ groupId, topics: [topic] }));
    const out: number[] = [];
    for (const p of entry?.partitions ?? []) out[p.partition] = Number(p.offset);
    return out;
  }

  async close(): Promise<void> {
    const closers = [...this.#closers];
    this.#closers.clear();
    this.#admin = undefined;
    await Promise.allSettled(closers.map((close) => close()));
  }
}

/**
 * kafkajs implements the transactional model before KIP-447: offsets are sent
 * with the group id, and a zombie is fenced only by a producer with the same
 * transactional id. So each input partition gets its own transactional id,
 * `<group>.<topic>.<partition>`: the instance that takes the partition over
 * fences the one that had it (docs/exactly-once.md).
 */
class TransactionalProducers {
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

  /** Runs the handler in a transaction that commits its records and the offsets `next`, or aborts. */
  async run(
    tp: TopicPartition,
    next: { topic: string; partition: number; offset: string }[],
    handler: (publish: (records: OutgoingRecord[]) => Promise<void>) => Promise<void>,
  ): Promise<void> {
    const producer = await this.#producer(tp);
    const txn = await producer.transaction();
    try {
      await handler(async (records) => {
        if (records.length > 0) await txn.sendBatch({ acks: -1, topicMessages: topicMessages(records) });
      });
      await txn.sendOffsets({
        consumerGroupId: this.groupId,
        topics: [{ topic: tp.topic, partitions: next.map((n) => ({ partition: n.partition, offset: n.offset })) }],
      });
      await txn.commit();
    } catch (err) {
      await txn.abort().catch(() => {});
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
