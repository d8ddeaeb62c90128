import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, Kafka } from 'kafkajs';
import { InvalidOptionError, StoppingError } from '../../errors.ts';
import type { Logger } from '../../log/logger.ts';
import type { BatchContext, OutgoingRecord, SubscribeOptions, Subscription, TopicPartition } from '../types.ts';
import { connect, within } from './clients.ts';
import type { ConnectTarget } from './connect-error.ts';
import { tooLargeType } from './publish-error.ts';
import { toRecord } from './records.ts';
import { TransactionalProducers } from './transactions.ts';

export interface SubscriptionContext {
  /** The transport's logger (component kafka-transport). */
  logger: Logger;
  sessionTimeoutMs: number;
  /** The transport's close() stops what is here; a subscription is here until stopped. */
  closers: Set<() => Promise<void>>;
  /** Where the members connect, for the error when they cannot. */
  target: ConnectTarget;
  /** Deletes a group (best effort): a broadcast member's own group goes when it stops. */
  deleteGroup: (groupId: string) => Promise<void>;
}

/**
 * A consumer group member: batches after the partition hooks, offsets committed after the handler
 * (or in its transaction), restarts after a crash or a failed onAssigned.
 */
export async function subscribe(
  kafka: Kafka,
  options: SubscribeOptions,
  context: SubscriptionContext,
): Promise<Subscription> {
  const { logger, closers } = context;
  const sessionTimeout = context.sessionTimeoutMs;
  // kafkajs has no consumer without a group, so a broadcast member gets one of its own. It commits
  // nothing there and deletes it when it stops: each predictor start used to leave a group behind
  // (issue 15, item 7), and a member that dies without stopping leaves an empty group with no
  // offsets, which the broker drops on its own (offsets.retention.check.interval.ms).
  const broadcast = options.broadcast === true;
  const memberGroup = broadcast ? `${options.groupId}-${randomUUID()}` : options.groupId;
  const commitOffsets: Consumer['commitOffsets'] = broadcast
    ? async () => {}
    : (offsets) => consumer.commitOffsets(offsets);
  const consumer = kafka.consumer({
    groupId: memberGroup,
    allowAutoTopicCreation: false,
    sessionTimeout,
    heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 10)),
    retry: {
      // A failed batch restarts the consumer from the committed offsets: at-least-once redelivery.
      restartOnFailure: async (err) => {
        logger.warn({ err, group: options.groupId }, 'consumer failed; restarting from committed offsets');
        return true;
      },
    },
  });
  const maxBatch = options.maxBatchSize ?? 500;
  const transactional = options.exactlyOnce ? new TransactionalProducers(kafka, options.groupId) : undefined;
  const group = options.groupId;
  const keyOf = (tp: TopicPartition) => `${tp.topic}/${tp.partition}`;
  let owned: TopicPartition[] = [];
  // Partitions whose onAssigned has finished: only these get batches (state is restored before the first).
  const restored = new Set<string>();
  // The hooks run one after another in this chain, and batches wait for it. Every link settles (a hook's
  // failure is handled inside it): a rejected link would fail every later batch and hook for good, and
  // reject unhandled when no batch is waiting.
  let ready: Promise<void> = Promise.resolve();
  const enqueue = (hooks: () => Promise<void>) => {
    ready = ready.then(hooks).catch((err: unknown) => {
      logger.error({ err, group }, 'partition hooks failed');
    });
    return ready;
  };
  let stopping = false;
  let rejoining = false;
  // Failed onAssigned calls in a row: the pause before joining again grows with them.
  let failures = 0;
  const revoke = async (partitions: TopicPartition[]) => {
    for (const tp of partitions) restored.delete(keyOf(tp));
    try {
      if (options.onRevoked) await options.onRevoked(partitions);
    } catch (err) {
      // The partitions are given up all the same; their next owner starts from the committed offsets.
      logger.error({ err, group, partitions }, 'onRevoked failed');
    }
    if (transactional) for (const tp of partitions) await transactional.release(tp);
  };
  /**
   * After a failed onAssigned: leave and join the group again, so that the partitions are assigned (and
   * onAssigned called) afresh. Leaving lets other members take our partitions meanwhile, so all of them
   * are given up first (onRevoked) and restored on the next assignment, as after any rebalance.
   */
  const rejoin = () => {
    if (stopping || rejoining) return;
    rejoining = true;
    failures += 1;
    const pauseMs = Math.min(500 * 2 ** (failures - 1), 15_000);
    const attempt = async () => {
      if (stopping) return;
      try {
        // Waits for the running batch, which waits for the hooks' chain: never awaited from inside it.
        await consumer.stop();
        const given = owned;
        owned = [];
        await enqueue(() => revoke(given));
        // A hook that keeps failing (a checkpoint topic gone) must not become a storm of rebalances.
        await sleep(pauseMs);
        if (!stopping) await consumer.run(runConfig);
        rejoining = false;
      } catch (err) {
        logger.warn({ err, group }, 'rejoining the group failed; trying again');
        setTimeout(() => void attempt(), 2000);
      }
    };
    setImmediate(() => void attempt());
  };
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    const next = Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) =>
      partitions.map((partition) => ({ topic, partition })),
    );
    const before = new Set(owned.map(keyOf));
    const after = new Set(next.map(keyOf));
    const revoked = owned.filter((tp) => !after.has(keyOf(tp)));
    const assigned = next.filter((tp) => !before.has(keyOf(tp)));
    owned = next;
    void enqueue(async () => {
      if (revoked.length > 0) await revoke(revoked);
      if (assigned.length === 0) return;
      try {
        if (options.onAssigned) await options.onAssigned(assigned);
      } catch (err) {
        // Not owned as far as the next join is concerned, so that it hands them to onAssigned again; their
        // batches are refused until then (a checkpoint restore that timed out must not be skipped).
        const failed = new Set(assigned.map(keyOf));
        owned = owned.filter((tp) => !failed.has(keyOf(tp)));
        logger.error({ err, group, partitions: assigned }, 'onAssigned failed; rejoining the group');
        rejoin();
        return;
      }
      for (const tp of assigned) restored.add(keyOf(tp));
      failures = 0;
    });
  });
  // A fetch that held only transaction markers or aborted records never reaches the handler; its
  // offsets are committed here, or a group reading a transactional topic would never catch up with
  // the end offset (the commit marker after the last record has an offset of its own).
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.batchSize !== 0 || stopping) return;
    const offset = String(Number(payload.lastOffset) + 1);
    commitOffsets([{ topic: payload.topic, partition: payload.partition, offset }]).catch((err: unknown) => {
      logger.debug(
        { err, group: options.groupId },
        'commit past transaction markers failed; retried on the next fetch',
      );
    });
  });
  await connect(consumer, context.target);
  await consumer.subscribe({ topics: options.topics, fromBeginning: options.fromBeginning ?? true });
  const runConfig: Parameters<typeof consumer.run>[0] = {
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
      await ready;
      // Not restored (its onAssigned failed; a rejoin is under way): nothing is resolved or committed, so
      // the records come again once the partition is assigned and restored.
      if (!restored.has(`${batch.topic}/${batch.partition}`)) return;
      // A context per handler call; its `stopping` stays a getter (a spread would freeze its value).
      const contextWith = (
        commit: (offset: number) => Promise<void>,
        publish?: (records: OutgoingRecord[]) => Promise<void>,
      ): BatchContext => ({
        get stopping() {
          return stopping || !isRunning();
        },
        heartbeat,
        commit,
        ...(publish ? { publish } : {}),
      });
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
        const partOf = (offset: number) => {
          if (offset < records[0].offset || offset > last)
            throw new InvalidOptionError(
              `commit(${offset}) is outside the batch's offsets ${records[0].offset}-${last}`,
            );
        };
        try {
          if (transactional) {
            await transactional.run(batch, next, (publish, commit) =>
              options.handler(
                input,
                contextWith(async (offset) => {
                  partOf(offset);
                  await commit(offset);
                  resolveOffset(String(offset));
                }, publish),
              ),
            );
          } else {
            await options.handler(
              input,
              contextWith(async (offset) => {
                partOf(offset);
                await commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(offset + 1) }]);
                resolveOffset(String(offset));
              }),
            );
            await commitOffsets(next);
          }
        } catch (err) {
          // A handler that gave its batch back because the subscription stops (it waited for something
          // that never came): nothing is resolved or committed, so the batch is redelivered to the next
          // owner; returning keeps kafkajs from logging the stop as a failed eachBatch with a stack.
          if (err instanceof StoppingError && (stopping || !isRunning())) return;
          throw err;
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
    logger.warn(
      { err: payload.error, group: options.groupId, restart: payload.restart },
      'consumer crashed; it restarts from the committed offsets',
    );
    if (payload.restart || stopping) return;
    // A batch whose outputs the broker refuses for their size is refused again on every redelivery: the
    // member stays stopped, with the cause in the log, instead of looping on the batch for ever.
    if (tooLargeType(payload.error) !== undefined) {
      logger.error(
        { err: payload.error, group: options.groupId },
        'consumer stopped: the broker refuses its outputs as too large, and a redelivery would be refused again',
      );
      return;
    }
    const restart = () => {
      if (stopping) return;
      consumer
        .connect()
        .then(() => consumer.run(runConfig))
        .catch((err: unknown) => {
          logger.warn({ err, group: options.groupId }, 'restarting the consumer failed; trying again');
          setTimeout(restart, 2000);
        });
    };
    setTimeout(restart, 1000);
  });
  const close = async () => {
    stopping = true;
    await disconnect(logger, consumer, options.groupId, sessionTimeout);
    // A restore still running (onAssigned reads its checkpoint through the transport) finishes before
    // the stop returns: the transport is closed next, and a read after that opened a client nobody
    // closed, which kept the process up after a SIGTERM that came right after the start.
    await ready;
    if (owned.length > 0 && options.onRevoked) await options.onRevoked(owned);
    await transactional?.close();
    owned = [];
    if (broadcast)
      await within(
        logger,
        context.deleteGroup(memberGroup),
        5000,
        { group: memberGroup },
        'deleting the broadcast group took too long',
      );
  };
  closers.add(close);
  return {
    stop: async () => {
      closers.delete(close);
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
async function disconnect(logger: Logger, consumer: Consumer, group: string, sessionTimeout: number): Promise<void> {
  await within(
    logger,
    consumer.disconnect(),
    sessionTimeout + 15_000,
    { group },
    'consumer did not disconnect in time',
  );
}
