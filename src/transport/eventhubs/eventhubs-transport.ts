import type { EventData, EventHubConsumerClient, EventHubProducerClient } from '@azure/event-hubs';
import type { TokenCredential } from '@azure/identity';
import { InvalidOptionError, TimeoutError, TransportError } from '../../errors.ts';
import { type Logger, silentLogger } from '../../log/logger.ts';
import { missingTopicError, missingTopicOf } from '../missing-topic.ts';
import type {
  ConsumedRecord,
  OutgoingRecord,
  Producer,
  SubscribeOptions,
  Subscription,
  TopicSpec,
  Transport,
} from '../types.ts';
import { ClientFactory, KEY_PROPERTY, toRecord } from './clients.ts';
import { type EventHubsOptions, namespaceOf, validateEventHubsOptions } from './options.ts';
import type { HubProvisioner } from './provisioner.ts';
import { subscribe } from './subscription.ts';

export type { HubProvisioner } from './provisioner.ts';

export interface EventHubsTransportOptions extends EventHubsOptions {
  logger?: Logger;
  /** For Entra ID; DefaultAzureCredential when a namespace is given and this is not. */
  credential?: TokenCredential;
  provisioner?: HubProvisioner;
}

/** Events in flight per publish: sends to different keys overlap, those of one key never do. */
const SEND_CONCURRENCY = 8;
/** A range read that makes no progress for this long fails. */
const READ_STALL_MS = 60_000;

/** An SDK error's retryable flag, as the project's `retriable` (STYLE habit 3). */
function wrap(message: string, err: unknown): TransportError {
  const e = err as { retryable?: boolean; code?: string; message?: string };
  // The SDK reports a failure after its retries as an AggregateError of the attempts, with no message.
  const detail =
    e.message ||
    (err instanceof AggregateError
      ? [...new Set(err.errors.map((x) => (x as Error).message))].join('; ')
      : String(err));
  return new TransportError(`${message}: ${detail}`, {
    cause: err,
    retriable: e.retryable === true,
    context: e.code ? { sdkCode: e.code } : {},
  });
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: string; condition?: string };
  return e.code === 'MessagingEntityNotFoundError' || e.condition === 'amqp:not-found';
}

/**
 * The transport port on Azure Event Hubs, over AMQP with @azure/event-hubs. A
 * topic is an event hub of the namespace; a record's offset is the event's
 * sequence number; a consumer group is an Event Hubs consumer group of the same
 * name, load-balanced and checkpointed through an Azure Blob container
 * (docs/eventhubs.md says what differs from Kafka).
 */
export class EventHubsTransport implements Transport {
  readonly kind = 'eventhubs';
  readonly #options: EventHubsTransportOptions;
  readonly #logger: Logger;
  readonly #clients: ClientFactory;
  readonly #producers = new Map<string, EventHubProducerClient>();
  readonly #readers = new Map<string, EventHubConsumerClient>();
  readonly #partitions = new Map<string, number>();
  readonly #closers = new Set<() => Promise<void>>();

  constructor(options: EventHubsTransportOptions) {
    this.#options = { ...options, ...validateEventHubsOptions(options) };
    this.#logger = (options.logger ?? silentLogger).child({ component: 'eventhubs-transport' });
    this.#clients = new ClientFactory(this.#options, options.credential);
  }

  /** The namespace host, for logs and the checkpoint store's paths. */
  get namespace(): string {
    return this.#options.connectionString
      ? namespaceOf(this.#options.connectionString)
      : this.#options.fullyQualifiedNamespace!;
  }

  #producer(hub: string): EventHubProducerClient {
    let client = this.#producers.get(hub);
    if (!client) {
      client = this.#clients.producer(hub);
      this.#producers.set(hub, client);
    }
    return client;
  }

  #reader(hub: string): EventHubConsumerClient {
    let client = this.#readers.get(hub);
    if (!client) {
      client = this.#clients.consumer(this.#options.readConsumerGroup, hub);
      this.#readers.set(hub, client);
    }
    return client;
  }

  /** Partition count of a hub; a hub that does not exist is a clear, permanent error. */
  async #partitionCount(hub: string): Promise<number> {
    const known = this.#partitions.get(hub);
    if (known !== undefined) return known;
    try {
      const props = await this.#producer(hub).getEventHubProperties();
      if (props.partitionIds.some((id, i) => id !== String(i)))
        throw new TransportError(`event hub "${hub}" has partition ids ${props.partitionIds.join(',')}, not 0..n-1`, {
          retriable: false,
        });
      this.#partitions.set(hub, props.partitionIds.length);
      return props.partitionIds.length;
    } catch (err) {
      if (isNotFound(err))
        throw missingTopicError(
          hub,
          `no event hub of that name in ${this.namespace}; create it first (docs/eventhubs.md)`,
          err,
        );
      if (err instanceof TransportError) throw err;
      throw wrap(`reading the properties of event hub "${hub}" failed`, err);
    }
  }

  async ensureTopics(specs: TopicSpec[]): Promise<void> {
    const missing: TopicSpec[] = [];
    for (const spec of specs) {
      if (this.#options.provisioner) await this.#options.provisioner.ensureHub(spec);
      try {
        const count = await this.#partitionCount(spec.topic);
        if (spec.partitions !== undefined && count !== spec.partitions)
          this.#logger.warn(
            { topic: spec.topic, partitions: count, wanted: spec.partitions },
            'event hub has a different partition count than asked for; it is used as it is',
          );
      } catch (err) {
        if (missingTopicOf(err) !== spec.topic) throw err;
        missing.push(spec);
      }
    }
    if (missing.length > 0)
      throw new TransportError(
        `event hubs missing in ${this.namespace}: ${missing.map((s) => s.topic).join(', ')}. Set EVENTHUBS_RESOURCE_GROUP ` +
          '(and EVENTHUBS_SUBSCRIPTION_ID) to have them created through Azure Resource Manager, or create them with, for each: ' +
          'az eventhubs eventhub create --resource-group <rg> --namespace-name <namespace> --name <topic> --partition-count <n> ' +
          '(docs/eventhubs.md lists the hubs, partition counts and consumer groups)',
        { retriable: false, context: { topics: missing.map((s) => s.topic) } },
      );
  }

  async producer(): Promise<Producer> {
    let closed = false;
    return {
      publish: async (records) => {
        if (closed) throw new TransportError('publish on a closed Event Hubs producer', { retriable: false });
        if (records.length > 0) await this.#publish(records);
      },
      close: async () => {
        closed = true;
      },
    };
  }

  /**
   * Groups the records by partition key (or explicit partition), keeping their order within a
   * group, and sends each group as batches; resolves when every batch is accepted by the service.
   */
  async #publish(records: OutgoingRecord[]): Promise<void> {
    const groups = new Map<string, OutgoingRecord[]>();
    for (const r of records) {
      const id = `${r.topic}\u0000${r.partition !== undefined ? `#${r.partition}` : r.key === null ? '' : `k${r.key}`}`;
      const list = groups.get(id);
      if (list) list.push(r);
      else groups.set(id, [r]);
    }
    for (const topic of new Set(records.map((r) => r.topic))) await this.#partitionCount(topic);
    const queue = [...groups.values()];
    const worker = async () => {
      for (let group = queue.shift(); group; group = queue.shift()) await this.#sendGroup(group);
    };
    await Promise.all(Array.from({ length: Math.min(SEND_CONCURRENCY, queue.length) }, worker));
  }

  async #sendGroup(group: OutgoingRecord[]): Promise<void> {
    const { topic, key, partition } = group[0];
    const client = this.#producer(topic);
    const batchOptions =
      partition !== undefined ? { partitionId: String(partition) } : key !== null ? { partitionKey: key } : {};
    try {
      let batch = await client.createBatch(batchOptions);
      for (const r of group) {
        const event: EventData = {
          body: r.value,
          properties: { ...r.headers, ...(partition !== undefined && r.key !== null ? { [KEY_PROPERTY]: r.key } : {}) },
        };
        if (batch.tryAdd(event)) continue;
        if (batch.count === 0)
          throw new TransportError(
            `a record of ${r.value.length} bytes for "${topic}" does not fit an Event Hubs batch (${batch.maxSizeInBytes} bytes)`,
            { retriable: false },
          );
        await client.sendBatch(batch);
        batch = await client.createBatch(batchOptions);
        batch.tryAdd(event);
      }
      if (batch.count > 0) await client.sendBatch(batch);
    } catch (err) {
      if (err instanceof TransportError) throw err;
      throw wrap(`publishing ${group.length} records to "${topic}" failed`, err);
    }
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    if (options.exactlyOnce)
      throw new InvalidOptionError(
        'Event Hubs has no transactions, so an exactly-once subscription is refused; run this consumer at-least-once (its outputs carry stable ids) or on Kafka (docs/eventhubs.md)',
      );
    for (const topic of options.topics) await this.#partitionCount(topic);
    const store = options.broadcast ? undefined : await this.#clients.checkpointStore();
    const sub = await subscribe({
      options,
      store,
      clients: this.#clients,
      settings: this.#options,
      logger: this.#logger,
    });
    const close = () => sub.stop();
    this.#closers.add(close);
    return {
      stop: async () => {
        this.#closers.delete(close);
        await sub.stop();
      },
      assignments: () => sub.assignments(),
    };
  }

  async readRange(topic: string, partition: number, from: number, to: number): Promise<ConsumedRecord[]> {
    if (to < from) return [];
    const count = await this.#partitionCount(topic);
    if (!Number.isInteger(partition) || partition < 0 || partition >= count)
      throw new TransportError(`partition ${partition} out of range for topic "${topic}"`, { retriable: false });
    const last = Math.min(to, (await this.endOffsets(topic))[partition] - 1);
    if (last < from) return [];
    const out: ConsumedRecord[] = [];
    let stalled: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve, reject) => {
      const stall = () => {
        clearTimeout(stalled);
        stalled = setTimeout(
          () => reject(new TimeoutError(`reading ${topic}[${partition}] ${from}..${last} made no progress`)),
          READ_STALL_MS,
        );
      };
      stall();
      const sub = this.#reader(topic).subscribe(
        String(partition),
        {
          processEvents: async (events) => {
            if (events.length > 0) stall();
            for (const e of events)
              if (e.sequenceNumber >= from && e.sequenceNumber <= last) out.push(toRecord(topic, partition, e));
            if (events.length > 0 && events[events.length - 1].sequenceNumber >= last) {
              clearTimeout(stalled);
              await sub.close();
              resolve();
            }
          },
          processError: async (err) => {
            if (!(err as { retryable?: boolean }).retryable) {
              clearTimeout(stalled);
              await sub.close();
              reject(wrap(`reading ${topic}[${partition}] failed`, err));
            }
          },
        },
        {
          startPosition: { sequenceNumber: from, isInclusive: true },
          maxBatchSize: Math.min(1000, last - from + 1),
          maxWaitTimeInSeconds: 1,
          skipParsingBodyAsJson: true,
        },
      );
    });
    return out;
  }

  async endOffsets(topic: string): Promise<number[]> {
    const count = await this.#partitionCount(topic);
    const client = this.#producer(topic);
    try {
      const props = await Promise.all(
        Array.from({ length: count }, (_, p) => client.getPartitionProperties(String(p))),
      );
      return props.map((p) => Math.max(0, p.lastEnqueuedSequenceNumber + 1));
    } catch (err) {
      throw wrap(`reading the end offsets of "${topic}" failed`, err);
    }
  }

  async committedOffsets(groupId: string, topic: string): Promise<number[]> {
    const count = await this.#partitionCount(topic);
    const store = await this.#clients.checkpointStore();
    const out = new Array<number>(count).fill(-1);
    const checkpoints = await store.listCheckpoints(this.#reader(topic).fullyQualifiedNamespace, topic, groupId);
    for (const c of checkpoints) {
      const p = Number(c.partitionId);
      if (p >= 0 && p < count) out[p] = c.sequenceNumber + 1;
    }
    return out;
  }

  async close(): Promise<void> {
    for (const close of [...this.#closers]) await close();
    this.#closers.clear();
    const clients = [...this.#producers.values(), ...this.#readers.values()];
    this.#producers.clear();
    this.#readers.clear();
    await Promise.all(clients.map((c) => c.close()));
  }
}
