import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidOptionError, StoppingError, TransportError } from '../../errors.ts';
import { type Logger, silentLogger } from '../../log/logger.ts';
import { missingTopicError } from '../missing-topic.ts';
import { partitionForKey } from '../partitioner.ts';
import type {
  BatchContext,
  ConsumedRecord,
  OutgoingRecord,
  Producer,
  RecordBatch,
  SubscribeOptions,
  Subscription,
  TopicPartition,
  TopicSpec,
  Transport,
} from '../types.ts';
import { ConsumerGroup, type GroupMember } from './group.ts';

export interface EmbeddedLogOptions {
  /** Partitions of a topic whose spec names none. @defaultValue 3 */
  defaultPartitions?: number;
  /** Wait before a failed batch is handed out again; doubles up to 5 s. @defaultValue 100 */
  retryBackoffMs?: number;
  logger?: Logger;
}

interface Partition {
  records: ConsumedRecord[];
}

/**
 * An in-process log with the Kafka semantics the consumers rely on: key-hash
 * partitions (Kafka's murmur2, so a device lands where it would on a broker),
 * per-partition order, consumer groups with committed offsets and
 * partition assignment, replay from any offset. Nothing is written to disk:
 * it serves the main job without infrastructure and the fast tests.
 */
export class EmbeddedLog implements Transport {
  readonly kind = 'embedded';
  readonly #topics = new Map<string, Partition[]>();
  readonly #groups = new Map<string, ConsumerGroup>();
  readonly #waiters = new Set<() => void>();
  readonly #defaultPartitions: number;
  readonly #retryBackoffMs: number;
  readonly #logger: Logger;
  #closed = false;

  constructor(options: EmbeddedLogOptions = {}) {
    this.#defaultPartitions = options.defaultPartitions ?? 3;
    this.#retryBackoffMs = options.retryBackoffMs ?? 100;
    if (!Number.isInteger(this.#defaultPartitions) || this.#defaultPartitions < 1) {
      throw new InvalidOptionError(`defaultPartitions must be a positive integer, got ${options.defaultPartitions}`);
    }
    this.#logger = (options.logger ?? silentLogger).child({ component: 'embedded-log' });
  }

  async ensureTopics(specs: TopicSpec[]): Promise<void> {
    for (const spec of specs) {
      const partitions = spec.partitions ?? this.#defaultPartitions;
      const existing = this.#topics.get(spec.topic);
      if (existing) {
        if (existing.length < partitions) {
          for (let p = existing.length; p < partitions; p++) existing.push({ records: [] });
        }
        continue;
      }
      this.#topics.set(
        spec.topic,
        Array.from({ length: partitions }, () => ({ records: [] })),
      );
    }
    for (const group of this.#groups.values()) group.rebalance();
  }

  async producer(): Promise<Producer> {
    return {
      publish: async (records) => this.#append(records),
      close: async () => {},
    };
  }

  #partitions(topic: string): Partition[] {
    const partitions = this.#topics.get(topic);
    if (!partitions)
      throw missingTopicError(topic, 'create it first (ensureTopics or "activity-tracking topics create")');
    return partitions;
  }

  #append(records: OutgoingRecord[]): void {
    if (this.#closed) throw new TransportError('embedded log is closed', { retriable: false });
    // Validate the whole batch first, so a bad record appends nothing (the batch is all-or-nothing like a Kafka produce).
    const targets = records.map((record) => {
      const partitions = this.#partitions(record.topic);
      const partition =
        record.partition ??
        (record.key === null
          ? Math.floor(Math.random() * partitions.length)
          : partitionForKey(record.key, partitions.length));
      if (!Number.isInteger(partition) || partition < 0 || partition >= partitions.length) {
        throw new TransportError(`partition ${partition} out of range for topic "${record.topic}"`, {
          retriable: false,
        });
      }
      return { log: partitions[partition].records, partition };
    });
    const now = Date.now();
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      const { log, partition } = targets[i];
      log.push({
        topic: record.topic,
        partition,
        offset: log.length,
        key: record.key,
        value: record.value,
        headers: { ...record.headers },
        timestamp: now,
      });
    }
    this.#wake();
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Resolves on the next publish or rebalance, or after `ms`. */
  async #idle(ms: number): Promise<void> {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => {
      wake = resolve;
    });
    this.#waiters.add(wake);
    const ac = new AbortController();
    await Promise.race([woken, sleep(ms, undefined, { signal: ac.signal }).catch(() => {})]);
    ac.abort();
    this.#waiters.delete(wake);
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    for (const topic of options.topics) this.#partitions(topic);
    const groupId = options.broadcast ? `${options.groupId}-${randomUUID()}` : options.groupId;
    let group = this.#groups.get(groupId);
    if (!group) {
      group = new ConsumerGroup(
        groupId,
        (topic) => this.#partitions(topic).length,
        () => this.#wake(),
      );
      this.#groups.set(groupId, group);
    }
    const member = group.join(options.topics);
    const done = this.#runMember(group, member, options);
    return {
      stop: async () => {
        member.stopping = true;
        this.#wake();
        await done;
        // A broadcast member's group is its own: kept, every start would add one for good (issue 15, item 7).
        if (options.broadcast) this.#groups.delete(groupId);
      },
      assignments: () => [...member.owned],
    };
  }

  async #runMember(group: ConsumerGroup, member: GroupMember, options: SubscribeOptions): Promise<void> {
    const maxBatch = options.maxBatchSize ?? 500;
    const fromBeginning = options.fromBeginning ?? true;
    const positions = new Map<string, number>();
    // Where each owned partition started, for a batch that fails before the group committed anything there.
    const starts = new Map<string, number>();
    let backoff = this.#retryBackoffMs;
    // Exactly-once in one process: the batch's outputs are held back and appended together with the
    // offset commit, after the handler resolved; a handler that throws leaves neither.
    let pending: OutgoingRecord[] = [];
    // The running batch, for `commit`: its outputs so far are appended with the offsets it commits.
    let running: RecordBatch | undefined;
    const context: BatchContext = {
      get stopping() {
        return member.stopping;
      },
      heartbeat: async () => {},
      commit: async (offset: number) => {
        const b = running;
        if (!b || offset < b.records[0].offset || offset > b.records[b.records.length - 1].offset)
          throw new InvalidOptionError(`commit(${offset}) is outside the running batch's offsets`);
        if (pending.length > 0) this.#append(pending);
        pending = [];
        positions.set(`${b.topic}/${b.partition}`, offset + 1);
        group.commit(b, offset + 1);
      },
      ...(options.exactlyOnce
        ? {
            publish: async (records: OutgoingRecord[]) => {
              pending.push(...records);
            },
          }
        : {}),
    };
    try {
      while (!member.stopping && !this.#closed) {
        await this.#syncAssignment(group, member, options, positions, starts, fromBeginning);
        let worked = false;
        for (const tp of member.owned) {
          if (member.stopping || member.generation !== group.generation) break;
          const id = `${tp.topic}/${tp.partition}`;
          const log = this.#partitions(tp.topic)[tp.partition].records;
          const position = positions.get(id)!;
          if (position >= log.length) continue;
          const batch: RecordBatch = {
            topic: tp.topic,
            partition: tp.partition,
            records: log.slice(position, position + maxBatch),
            highWatermark: log.length,
          };
          pending = [];
          running = batch;
          try {
            await options.handler(batch, context);
          } catch (err) {
            const committed = group.committed(tp);
            positions.set(id, committed >= 0 ? committed : starts.get(id)!);
            // A batch given back because the subscription stops is no failure (as on Kafka): no warning, no pause.
            if (!(err instanceof StoppingError && member.stopping)) {
              this.#logger.warn(
                { err, group: group.id, ...tp, offset: position },
                'batch handler failed; batch will be redelivered',
              );
              await sleep(backoff);
              backoff = Math.min(backoff * 2, 5000);
            }
            worked = true;
            break;
          }
          backoff = this.#retryBackoffMs;
          const next = position + batch.records.length;
          positions.set(id, next);
          if (pending.length > 0) this.#append(pending);
          group.commit(tp, next);
          worked = true;
        }
        if (!worked) await this.#idle(50);
        else await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      const lost = [...member.owned];
      group.leave(member);
      if (lost.length > 0 && options.onRevoked) await options.onRevoked(lost);
    }
  }

  async #syncAssignment(
    group: ConsumerGroup,
    member: GroupMember,
    options: SubscribeOptions,
    positions: Map<string, number>,
    starts: Map<string, number>,
    fromBeginning: boolean,
  ): Promise<void> {
    if (member.generation === group.generation) return;
    const { revoked, assigned } = group.sync(member);
    if (revoked.length > 0 && options.onRevoked) await options.onRevoked(revoked);
    for (const tp of revoked) {
      positions.delete(`${tp.topic}/${tp.partition}`);
      starts.delete(`${tp.topic}/${tp.partition}`);
    }
    for (const tp of assigned) {
      const committed = group.committed(tp);
      const start =
        committed >= 0 ? committed : fromBeginning ? 0 : this.#partitions(tp.topic)[tp.partition].records.length;
      positions.set(`${tp.topic}/${tp.partition}`, start);
      starts.set(`${tp.topic}/${tp.partition}`, start);
    }
    if (assigned.length > 0 && options.onAssigned) await options.onAssigned(assigned);
  }

  async readRange(topic: string, partition: number, from: number, to: number): Promise<ConsumedRecord[]> {
    const partitions = this.#partitions(topic);
    if (partition < 0 || partition >= partitions.length) {
      throw new TransportError(`partition ${partition} out of range for topic "${topic}"`, { retriable: false });
    }
    return partitions[partition].records.slice(Math.max(0, from), to + 1);
  }

  async endOffsets(topic: string): Promise<number[]> {
    return this.#partitions(topic).map((p) => p.records.length);
  }

  async committedOffsets(groupId: string, topic: string): Promise<number[]> {
    const count = this.#partitions(topic).length;
    const group = this.#groups.get(groupId);
    return Array.from({ length: count }, (_, partition) => group?.committed({ topic, partition }) ?? -1);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#wake();
  }

  /** Test and inspection helper: every partition's records of a topic, in offset order. */
  snapshotTopic(topic: string): ConsumedRecord[][] {
    return this.#partitions(topic).map((p) => [...p.records]);
  }
}

export type { TopicPartition };
