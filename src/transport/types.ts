/**
 * The transport port: the only door between the consumers and a log (Kafka,
 * Event Hubs, or the embedded in-process log). Code above this port never
 * imports kafkajs or an Azure SDK (STYLE.md habit 2).
 *
 * Semantics every adapter keeps, because the consumers rely on them:
 * - records with the same key land in the same partition, in publish order;
 * - `publish` resolves only once every record is acknowledged by the log;
 * - a subscription hands the handler one partition's batch at a time, in
 *   offset order, and commits the offset after the batch only when the handler
 *   resolved (at-least-once: a handler that throws gets the batch again, from
 *   the last offset it committed through `context.commit` where there is one);
 * - consumers sharing a `groupId` split the partitions between them;
 * - any offset range can be read back (`readRange`) without touching a group;
 * - a topic that does not exist is `missingTopicError` (missing-topic.ts) from `publish` and
 *   `endOffsets`, at once: not retriable, and told apart from a log that is down by
 *   `missingTopicOf`, so a caller can wait for `topics create` or say to run it.
 */

export type Headers = Record<string, string>;

export interface OutgoingRecord {
  topic: string;
  /** Partition key: the device id for every per-device topic. `null` spreads records round-robin. */
  key: string | null;
  value: Buffer;
  headers?: Headers;
  /** Explicit partition, bypassing the key hash. */
  partition?: number;
}

export interface ConsumedRecord {
  topic: string;
  partition: number;
  /** Position in the partition. Kafka offsets and Event Hubs sequence numbers both fit a safe integer. */
  offset: number;
  key: string | null;
  value: Buffer;
  headers: Headers;
  /** Epoch ms the log stamped the record with. */
  timestamp: number;
}

export interface RecordBatch {
  topic: string;
  partition: number;
  records: ConsumedRecord[];
  /** Offset of the next record after the newest in the partition when the batch was fetched: lag = highWatermark - last offset - 1. */
  highWatermark: number;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface TopicSpec {
  topic: string;
  /** @defaultValue 3 */
  partitions?: number;
  /** Compacted topics keep the newest record per key (state changelogs). @defaultValue false */
  compacted?: boolean;
  /** Retention in ms; -1 keeps forever. @defaultValue the log's own default */
  retentionMs?: number;
  /**
   * The consumer groups that read this topic, for a log that needs them made beforehand (Event Hubs);
   * Kafka and the embedded log make groups on first use and ignore this. @defaultValue none
   */
  consumerGroups?: string[];
}

export interface BatchContext {
  /** Resolves true once the subscription is stopping; long handlers may check it between steps. */
  readonly stopping: boolean;
  /** Sends a heartbeat to the group where the log needs one (Kafka); no-op elsewhere. */
  heartbeat(): Promise<void>;
  /**
   * With `exactlyOnce`: publishes within the batch's transaction, which
   * commits these records and the batch's offsets together (or neither).
   * Undefined in at-least-once subscriptions.
   */
  publish?: (records: OutgoingRecord[]) => Promise<void>;
  /**
   * Commits the batch's records up to and including `offset` now, before the handler resolves: their
   * offsets (and, with `exactlyOnce`, the records published through `publish` so far, in one transaction).
   * A handler that throws later gets only the records after `offset` again; the rest of the batch is
   * committed as usual when the handler resolves. Lets a handler publish a batch's outputs in parts, each
   * part committed with its inputs (StreamConsumer). On Event Hubs it writes the partition's checkpoint at
   * that event (a blob write). Undefined where nothing is committed (broadcast subscriptions).
   */
  commit?: (offset: number) => Promise<void>;
}

export type BatchHandler = (batch: RecordBatch, context: BatchContext) => Promise<void>;

export interface SubscribeOptions {
  groupId: string;
  topics: string[];
  handler: BatchHandler;
  /** Where a partition with no committed offset starts. @defaultValue true (earliest) */
  fromBeginning?: boolean;
  /**
   * Called with the partitions this member now owns, before their first batch. On Kafka, when it
   * throws, the error is logged, the partitions get no batch, and the member leaves and joins the group
   * again (all its partitions revoked first), so that it is called again: it must be safe to repeat.
   */
  onAssigned?: (partitions: TopicPartition[]) => Promise<void> | void;
  /** Called with the partitions this member gives up, after their last batch; on Kafka a throw is logged. */
  onRevoked?: (partitions: TopicPartition[]) => Promise<void> | void;
  /** At most this many records per handler call. @defaultValue 500 */
  maxBatchSize?: number;
  /**
   * Outputs published through `context.publish` and the batch's offsets are
   * committed atomically (Kafka transactions; docs/exactly-once.md). A
   * transport that cannot do it refuses the subscription. @defaultValue false
   */
  exactlyOnce?: boolean;
  /**
   * Every subscriber reads every partition and nothing is committed: a follower of a small topic
   * (each predictor instance following the deployments). Kafka and the embedded log give each
   * subscriber a group of its own (`groupId` + a random suffix), deleted when the subscription stops
   * (a member that dies leaves an empty group with no offsets, which Kafka drops by itself, so starts do
   * not pile groups up); Event Hubs reads with plain receivers
   * on its read consumer group, since consumer groups cannot be made on the fly there. @defaultValue false
   */
  broadcast?: boolean;
}

export interface Subscription {
  /** Stops fetching, lets the running batch finish (and commit), and leaves the group. */
  stop(): Promise<void>;
  /** Partitions this member owns now. */
  assignments(): TopicPartition[];
}

export interface Producer {
  /** Resolves when every record is acknowledged by the log. */
  publish(records: OutgoingRecord[]): Promise<void>;
  close(): Promise<void>;
}

export interface Transport {
  /** A short name for logs and metrics: `embedded`, `kafka`, `eventhubs`. */
  readonly kind: string;
  ensureTopics(specs: TopicSpec[]): Promise<void>;
  producer(): Promise<Producer>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** Reads records with from <= offset <= to of one partition, without a consumer group. */
  readRange(topic: string, partition: number, from: number, to: number): Promise<ConsumedRecord[]>;
  /** Offset the next record of each partition will get. */
  endOffsets(topic: string): Promise<number[]>;
  /** Committed offset (next to read) of a group per partition; -1 where nothing is committed. */
  committedOffsets(groupId: string, topic: string): Promise<number[]>;
  close(): Promise<void>;
}
