import type { Logger } from '../log/logger.ts';
import type { DecodeError } from '../schemas/cloudevents.ts';
import type { Transport } from '../transport/types.ts';

export type TransportKind = 'kafka' | 'eventhubs' | 'embedded';

export interface ConnectOptions {
  /**
   * A transport kind, configured from `env` (docs/configuration.md: KAFKA_BROKERS, EVENTHUBS_CONNECTION_STRING,
   * ...), or a transport you made yourself (it stays yours: `close()` does not close it).
   * @defaultValue env TRANSPORT; else `kafka` when KAFKA_BROKERS is set, `eventhubs` when
   * EVENTHUBS_CONNECTION_STRING or EVENTHUBS_NAMESPACE is; else `embedded` (an in-process log, with the
   * project's topics created)
   */
  transport?: TransportKind | Transport;
  /** Namespace of the topics (`<prefix>.predictions`, ...), as the pipeline's TOPIC_PREFIX. @defaultValue env TOPIC_PREFIX */
  topicPrefix?: string;
  /** @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
  /** Logs of the client and its transport. @defaultValue warnings and errors as pino JSON on stderr (level: env LOG_LEVEL) */
  logger?: Logger;
  /** CloudEvents `source` of the readings this client sends. @defaultValue `activity-tracking/app` */
  source?: string;
}

export interface SubscribeEventsOptions {
  /**
   * Consumer group: subscribers sharing it split the partitions, and it keeps their committed offsets. One
   * group per topic: on Kafka, members of a group that subscribe to different topics are assigned each
   * other's partitions and never read them (a client refuses the mix). On Event Hubs the group must exist.
   */
  group: string;
  /** Where a group with no committed offset starts: the oldest record kept, or only new ones. @defaultValue true */
  fromBeginning?: boolean;
  /**
   * Called for a record that does not decode (bad envelope, body or schema). The iterator yields nothing for
   * it and goes on: one bad record from another producer must not stop a subscriber, and throwing it out of
   * the iterator would end the loop with the record uncommitted, to fail again on every restart. The record
   * is committed with the rest of its batch. Throwing from here ends the subscription instead: `next()`
   * rejects with that error, and that record and those after it are redelivered to the next subscriber of the group.
   * @defaultValue a warning in the client's log (with the record's position and the decode reason)
   */
  onInvalid?: (record: InvalidRecord) => void | Promise<void>;
}

/** One event from a topic, decoded and validated against its schema. */
export interface ReceivedEvent<T> {
  data: T;
  /** CloudEvent id: a redelivered record has the same id, so a consumer can recognize it. */
  id: string;
  /** CloudEvent time (RFC 3339): when the event was emitted; empty when the producer set none. */
  time: string;
  /** CloudEvent type, with its version (`dev.activity-tracking.drift.v1`). */
  type: string;
  source: string;
  /** The device, on per-device topics. */
  subject?: string;
  topic: string;
  partition: number;
  offset: number;
}

export interface InvalidRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  /** Why: `error.reason` is a stable code (docs/schemas.md). */
  error: DecodeError;
}
