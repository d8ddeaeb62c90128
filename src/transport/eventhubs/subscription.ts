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
 * Kafka. A batch's checkpoint is written only after its handler resolved; a
 * handler that throws gets the same batch again (at-least-once) until it
 * succeeds or the subscription stops — then the partition's next owner starts
 * from the last checkpoint.
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
  const context: BatchContext = {
    get stopping() {
      return stopping;
    },
    heartbeat: async () => {},
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

    const handle = async (events: ReceivedEventData[], ctx: PartitionContext) => {
      const tp = tpOf(ctx);
      const records = events.map((e) => toRecord(topic, tp.partition, e));
      const last = events[events.length - 1];
      const newest = ctx.lastEnqueuedEventProperties?.sequenceNumber ?? last.sequenceNumber;
      const batch: RecordBatch = { ...tp, records, highWatermark: Math.max(newest, last.sequenceNumber) + 1 };
      log.debug({ topic, partition: tp.partition, records: records.length }, 'batch');
      for (let attempt = 1; ; attempt++) {
        try {
          await options.handler(batch, context);
          break;
        } catch (err) {
          if (stopping || lost.has(idOf(ctx))) throw err;
          log.warn(
            { err, topic, partition: tp.partition, attempt },
            'batch handler failed; the batch is delivered again',
          );
          await sleep(Math.min(RETRY_MS.initial * attempt, RETRY_MS.max));
        }
      }
      if (lost.has(idOf(ctx)) || !w.store) return;
      for (let attempt = 1; ; attempt++) {
        try {
          await ctx.updateCheckpoint(last);
          return;
        } catch (err) {
          if (attempt >= CHECKPOINT_ATTEMPTS) {
            // The next batch's checkpoint covers these records; until then a restart replays them.
            log.error({ err, topic, partition: tp.partition }, 'writing the checkpoint failed');
            return;
          }
          await sleep(RETRY_MS.initial * attempt);
        }
      }
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
