import pino from 'pino';
import { ReadingsProducer, type SendOptions } from '../../producers/readings-producer.ts';
import { InvalidOptionError } from '../errors.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import { EVENT_TYPES } from '../schemas/registry.ts';
import { namespace, TOPIC_PREFIX_PATTERN, type TopicNames, topicSpecs } from '../topics.ts';
import { createTransport, TRANSPORT_KINDS } from '../transport/index.ts';
import type { Producer, Transport } from '../transport/types.ts';
import { EventStream } from './event-stream.ts';
import type { ConnectOptions, SubscribeEventsOptions, TransportKind } from './types.ts';

/**
 * Connects to the pipeline's log. A kind is configured from the environment; only the embedded log gets
 * the project's topics created (it lives in this process), a shared log's topics are the operator's
 * (`activity-tracking topics create`).
 */
export async function connect(options: ConnectOptions = {}): Promise<Client> {
  const env = options.env ?? process.env;
  const logger = options.logger ?? createLogger({ level: env.LOG_LEVEL ?? 'warn', destination: pino.destination(2) });
  const prefix = options.topicPrefix ?? (env.TOPIC_PREFIX || undefined);
  if (prefix !== undefined && !TOPIC_PREFIX_PATTERN.test(prefix))
    throw new InvalidOptionError(
      `topicPrefix (env TOPIC_PREFIX) is "${prefix}"; use 1 to 100 letters, digits, dots, dashes or underscores, starting with a letter or digit`,
    );
  const ns = namespace(prefix);
  const chosen = options.transport ?? transportKindFromEnv(env);
  if (typeof chosen !== 'string') return new Client(chosen, ns.topics, false, logger, options.source);
  if (!(TRANSPORT_KINDS as readonly string[]).includes(chosen))
    throw new InvalidOptionError(
      `transport (env TRANSPORT) is "${chosen}"; choose one of ${TRANSPORT_KINDS.join(', ')}`,
    );
  const transport = createTransport(chosen, { env, logger });
  if (chosen === 'embedded') await transport.ensureTopics(topicSpecs(undefined, ns.topics, ns));
  return new Client(transport, ns.topics, true, logger, options.source);
}

/** The transport the environment names, as the CLI chooses it (docs/configuration.md). */
export function transportKindFromEnv(env: NodeJS.ProcessEnv): string {
  if (env.TRANSPORT) return env.TRANSPORT;
  if (env.KAFKA_BROKERS) return 'kafka';
  if (env.EVENTHUBS_CONNECTION_STRING || env.EVENTHUBS_NAMESPACE) return 'eventhubs';
  return 'embedded' satisfies TransportKind;
}

/** A user's service's door to the pipeline: send readings, read drift events and predictions. */
export class Client {
  readonly #transport: Transport;
  readonly #ownsTransport: boolean;
  readonly #logger: Logger;
  readonly #source: string | undefined;
  /** Open streams, with their group and topic. */
  readonly #streams = new Map<{ return(): Promise<unknown> }, { group: string; topic: string }>();
  #producer: Promise<Producer> | undefined;
  #readings: Promise<ReadingsProducer> | undefined;
  #closed = false;
  /** The topic names this client reads and writes (with the prefix). */
  readonly topics: TopicNames;

  constructor(transport: Transport, topics: TopicNames, ownsTransport: boolean, logger: Logger, source?: string) {
    this.#transport = transport;
    this.topics = topics;
    this.#ownsTransport = ownsTransport;
    this.#logger = logger.child({ component: 'client' });
    this.#source = source;
  }

  /** The transport underneath (its kind: `client.transport.kind`). */
  get transport(): Transport {
    return this.#transport;
  }

  /**
   * The readings producer (made on first use, one per client): `record`/`send` number each device's v1
   * samples (rows of 6 at 50 Hz) so the featurizer sees gaps and duplicates; `timedRecord` builds v2.
   */
  readings(): Promise<ReadingsProducer> {
    this.#open();
    this.#readings ??= this.#producerOnce().then(
      (producer) =>
        new ReadingsProducer(producer, {
          topic: this.topics.sensorReadings,
          ...(this.#source ? { source: this.#source } : {}),
        }),
    );
    return this.#readings;
  }

  /**
   * Sends a device's next samples (sensor-readings v1: rows of 6 values, acc x y z in g then gyro x y z
   * in rad/s, at 50 Hz); resolves once the log acknowledged them.
   */
  async sendReadings(device: string, rows: readonly (readonly number[])[], options: SendOptions = {}): Promise<void> {
    await (await this.readings()).send(device, rows, options);
  }

  /**
   * Sends timed readings (sensor-readings v2): rows of one sensor (`acc` or `gyro`, 3 values) or of
   * both (6), each taken at `times[i]` (epoch ms), at any rate; the featurizer resamples them.
   */
  async sendTimedReadings(
    device: string,
    sensor: 'acc' | 'gyro' | 'both',
    times: readonly number[],
    rows: readonly (readonly number[])[],
    options: { labels?: readonly (string | null)[] } = {},
  ): Promise<void> {
    const readings = await this.readings();
    const record = readings.timedRecord(device, sensor, times, rows, options.labels);
    await (await this.#producerOnce()).publish([record]);
  }

  /** Drift events (data and concept drift), committed after the loop body (EventStream). */
  subscribeDrift(options: SubscribeEventsOptions): EventStream<typeof EVENT_TYPES.drift> {
    return this.#stream(this.topics.driftEvents, EVENT_TYPES.drift, options);
  }

  /** The production model's predictions, committed after the loop body (EventStream). */
  subscribePredictions(options: SubscribeEventsOptions): EventStream<typeof EVENT_TYPES.prediction> {
    return this.#stream(this.topics.predictions, EVENT_TYPES.prediction, options);
  }

  /** Stops every subscription (their unfinished records are redelivered), then closes the producer and a transport `connect` made. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#streams.keys()].map((s) => s.return()));
    const producer = await this.#producer?.catch(() => undefined);
    await producer?.close();
    if (this.#ownsTransport) await this.#transport.close();
  }

  #stream<T extends typeof EVENT_TYPES.drift | typeof EVENT_TYPES.prediction>(
    topic: string,
    type: T,
    options: SubscribeEventsOptions,
  ): EventStream<T> {
    this.#open();
    const group = options?.group;
    for (const open of this.#streams.values())
      if (open.group === group && open.topic !== topic)
        throw new InvalidOptionError(
          `group "${group}" already reads ${open.topic} here; give each subscription its own group (e.g. "${group}-${topic}"): on Kafka, members of one group that subscribe to different topics are handed each other's partitions, which they never read`,
        );
    const stream = new EventStream(this.#transport, topic, type, options, this.#logger, (s) => this.#streams.delete(s));
    this.#streams.set(stream, { group, topic });
    return stream;
  }

  #producerOnce(): Promise<Producer> {
    // A producer that could not be made (the log was down) is asked for again on the next send.
    this.#producer ??= this.#transport.producer().catch((err: unknown) => {
      this.#producer = undefined;
      this.#readings = undefined;
      throw err;
    });
    return this.#producer;
  }

  #open(): void {
    if (this.#closed) throw new InvalidOptionError('this client is closed; connect() again');
  }
}
