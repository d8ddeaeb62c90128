import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CheckpointStore,
  CloseReason,
  type EventHubConsumerClient,
  earliestEventPosition,
  latestEventPosition,
  type PartitionContext,
  type ReceivedEventData,
  type Subscription as SdkSubscription,
} from '@azure/event-hubs';
import { InvalidOptionError, TransportError } from '../../errors.ts';
import type { Logger } from '../../log/logger.ts';
import type { BatchContext, RecordBatch, SubscribeOptions, TopicPartition } from '../types.ts';
import { type ClientFactory, toRecord } from './clients.ts';
import type { EventHubsOptions } from './options.ts';

interface Wiring {
  options: SubscribeOptions;
  /** Undefined for a broadcast subscription: plain receivers on the read consumer group, nothing checkpointed. */
  store: CheckpointStore | undefined;
  clients: ClientFactory;
  settings: EventHubsOptions;
  logger: Logger;
}

/** Pause before a failed handler gets its batch again, growing to a cap. */
const RETRY_MS = { initial: 200, max: 5000 };
const CHECKPOINT_ATTEMPTS = 5;

/**
 * One consumer group's subscription to some event hubs: an
 * EventHubConsumerClient per hub, load-balanced through the blob checkpoint
 * store. The SDK runs one pump per owned partition; the handler calls of all
 * of them go through one lane, so the handler sees one batch at a time, as on
 * Kafka. A batch's checkpoint is written only after its handler resolved, or
 * through `context.commit` for its first records; a handler that throws gets
 * the batch again from after its last commit (at-least-once) until it succeeds
 * or the subscription stops — then the partition's next owner starts from the
 * last checkpoint.
 */
export async function subscribe(w: Wiring): Promise<{ stop(): Promise<void>; assignments(): TopicPartition[] }> {
  const { options, settings, logger } = w;
  const log = logger.child({ group: options.groupId });
  const owned = new Map<string, TopicPartition>();
  /** Partitions whose ownership was lost: a batch still running there writes no checkpoint. */
  const lost = new Set<string>();
  let lane: Promise<unknown> = Promise.resolve();
  let stopping = false;
  const inLane = <T>(task: () => Promise<T>): Promise<T> => {
    const next = lane.then(task);
    lane = next.catch(() => {});
    return next;
  };
  const clients: EventHubConsumerClient[] = [];
  const subs: SdkSubscription[] = [];
  for (const topic of options.topics) {
    const client = w.store
      ? w.clients.consumer(options.groupId, topic, w.store, {
          loadBalancingOptions: {
            // Greedy: a new member takes its fair share in one round instead of one partition per
            // round (the SDK's "balanced" needs n rounds of loadBalancingIntervalMs to start n partitions).
            strategy: 'greedy',
            updateIntervalInMs: settings.loadBalancingIntervalMs,
            partitionOwnershipExpirationIntervalInMs: settings.ownershipExpirationMs,
          },
        })
      : w.clients.consumer(settings.readConsumerGroup, topic);
    clients.push(client);
    const idOf = (ctx: PartitionContext) => `${topic}/${ctx.partitionId}`;
    const tpOf = (ctx: PartitionContext) => ({ topic, partition: Number(ctx.partitionId) });

    /**
     * Writes a partition's checkpoint at `event`, retrying a few times. `required`: a failure after the
     * retries throws (a `commit` the handler asked for); otherwise it is logged and the next batch's
     * checkpoint covers these records (until then a restart replays them).
     */
    const checkpoint = async (ctx: PartitionContext, event: ReceivedEventData, required: boolean) => {
      for (let attempt = 1; ; attempt++) {
        try {
          await ctx.updateCheckpoint(event);
          return;
        } catch (err) {
          if (attempt >= CHECKPOINT_ATTEMPTS) {
            if (required)
              throw new TransportError(`writing the checkpoint of ${topic}[${ctx.partitionId}] failed`, {
                cause: err,
                retriable: true,
              });
            log.error({ err, topic, partition: tpOf(ctx).partition }, 'writing the checkpoint failed');
            return;
          }
          await sleep(RETRY_MS.initial * attempt);
        }
      }
    };

    const handle = async (events: ReceivedEventData[], ctx: PartitionContext) => {
      const tp = tpOf(ctx);
      const records = events.map((e) => toRecord(topic, tp.partition, e));
      const last = events[events.length - 1];
      const newest = ctx.lastEnqueuedEventProperties?.sequenceNumber ?? last.sequenceNumber;
      const batch: RecordBatch = { ...tp, records, highWatermark: Math.max(newest, last.sequenceNumber) + 1 };
      log.debug({ topic, partition: tp.partition, records: records.length }, 'batch');
      /** The offset through which `commit` checkpointed this batch: a retry starts after it. */
      let committed = -1;
      const batchContext: BatchContext = {
        get stopping() {
          return stopping;
        },
        heartbeat: async () => {},
        // A checkpoint is any event's position, so part of a batch can be committed as on Kafka: a
        // subscriber that stops mid-batch (EventStream on `break`) or publishes a batch's outputs in
        // parts (StreamConsumer) does not get its finished records again. Broadcast commits nothing.
        ...(w.store
          ? {
              commit: async (offset: number) => {
                const i = events.findIndex((e) => e.sequenceNumber === offset);
                if (i < 0) throw new InvalidOptionError(`commit(${offset}) is outside the running batch's offsets`);
                // After a lost ownership the partition's next owner writes its checkpoints; these records
                // come again there, from the last checkpoint (at-least-once).
                if (offset <= committed || lost.has(idOf(ctx))) return;
                await checkpoint(ctx, events[i], true);
                committed = offset;
              },
            }
          : {}),
      };
      for (let attempt = 1; ; attempt++) {
        const pending = committed < 0 ? batch : { ...batch, records: records.filter((r) => r.offset > committed) };
        if (pending.records.length === 0) break;
        try {
          await options.handler(pending, batchContext);
          break;
        } catch (err) {
          if (stopping || lost.has(idOf(ctx))) throw err;
          log.warn(
            { err, topic, partition: tp.partition, attempt, from: pending.records[0].offset },
            'batch handler failed; the batch is delivered again from its last commit',
          );
          await sleep(Math.min(RETRY_MS.initial * attempt, RETRY_MS.max));
        }
      }
      if (lost.has(idOf(ctx)) || !w.store || committed === last.sequenceNumber) return;
      await checkpoint(ctx, last, false);
    };

    subs.push(
      client.subscribe(
        {
          processInitialize: async (ctx) => {
            lost.delete(idOf(ctx));
            owned.set(idOf(ctx), tpOf(ctx));
            log.info({ topic, partition: tpOf(ctx).partition }, 'partition assigned');
            if (options.onAssigned) await inLane(async () => options.onAssigned?.([tpOf(ctx)]));
          },
          processEvents: async (events, ctx) => {
            if (events.length === 0) return;
            await inLane(() => handle(events, ctx));
          },
          processClose: async (reason, ctx) => {
            if (reason === CloseReason.OwnershipLost) lost.add(idOf(ctx));
            if (!owned.delete(idOf(ctx))) return;
            log.info({ topic, partition: tpOf(ctx).partition, reason }, 'partition released');
            if (options.onRevoked) await inLane(async () => options.onRevoked?.([tpOf(ctx)]));
          },
          processError: async (err, ctx) => {
            log.warn({ err, topic, partition: ctx.partitionId }, 'Event Hubs subscription error');
          },
        },
        {
          startPosition: (options.fromBeginning ?? true) ? earliestEventPosition : latestEventPosition,
          maxBatchSize: options.maxBatchSize ?? 500,
          maxWaitTimeInSeconds: settings.maxWaitMs / 1000,
          skipParsingBodyAsJson: true,
          trackLastEnqueuedEventProperties: true,
        },
      ),
    );
  }

  return {
    assignments: () => [...owned.values()],
    stop: async () => {
      stopping = true;
      // Closing a subscription stops its pumps (processClose for each partition) but does not wait
      // for a handler already running: the lane does.
      await Promise.all(subs.map((s) => s.close()));
      await inLane(async () => {});
      const left = [...owned.values()];
      owned.clear();
      if (left.length > 0 && options.onRevoked) await options.onRevoked(left);
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}
