import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type ReceivedEvent } from '../../src/client/index.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { encodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES, type EventType } from '../../src/schemas/registry.ts';
import { namespace } from '../../src/topics.ts';
import type { Transport } from '../../src/transport/types.ts';
import { usePeer } from '../eventhubs/harness.ts';
import { EXAMPLES } from '../schemas/examples.ts';
import { take } from './take.ts';

const eventHubs = usePeer();

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * The Event Hubs transport, with a record of the offsets of every batch the SDK handed a subscription:
 * where a batch ends is the SDK's choice (what its receiver had when it asked), so the test reads it
 * instead of assuming one.
 */
async function recordingTransport(): Promise<{ transport: Transport; batches: number[][] }> {
  const inner = await eventHubs.transport();
  const batches: number[][] = [];
  const transport: Transport = Object.create(inner);
  Object.defineProperty(transport, 'subscribe', {
    value: (options: Parameters<Transport['subscribe']>[0]) =>
      inner.subscribe({
        ...options,
        handler: (batch, context) => {
          batches.push(batch.records.map((r) => r.offset));
          return options.handler(batch, context);
        },
      }),
  });
  for (const name of ['ensureTopics', 'producer', 'readRange', 'endOffsets', 'committedOffsets', 'close'] as const)
    Object.defineProperty(transport, name, { value: (inner[name] as (...a: unknown[]) => unknown).bind(inner) });
  return { transport, batches };
}

const ids = (prefix: string, from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `${prefix}-${from + i}`);

async function publishTen(transport: Transport, topic: string, type: EventType, prefix: string): Promise<void> {
  const producer = await transport.producer();
  await producer.publish(
    Array.from({ length: 10 }, (_, i) => {
      const { headers, value } = encodeEvent({ type, source: 'test', id: `${prefix}-${i}`, data: EXAMPLES[type] });
      return { topic, key: 'user-01', headers, value };
    }),
  );
  await producer.close();
}

describe('client on Event Hubs (SDK against the local AMQP peer, checkpoints in Azurite)', () => {
  // Event Hubs checkpoints a partition at any event, so the stream commits the records its loop finished
  // when it stops mid-batch, as on Kafka: what comes again is the record the loop broke or threw on and
  // those after it, never one it finished, wherever the SDK cut the batches. (A process that dies without
  // stopping commits nothing more: its successor gets everything after the last checkpoint, on every log.)
  it.each([
    ['subscribeDrift', EVENT_TYPES.drift, 'driftEvents'],
    ['subscribePredictions', EVENT_TYPES.prediction, 'predictions'],
  ] as const)(
    '%s commits after the loop body: a break and a crash redeliver exactly the unfinished records',
    async (method, type, name) => {
      const { transport, batches } = await recordingTransport();
      cleanups.push(() => transport.close());
      const prefix = `client-${randomUUID()}`;
      const topic = namespace(prefix).topics[name];
      await transport.ensureTopics([{ topic, partitions: 1 }]);
      const client = await connect({ transport, topicPrefix: prefix, logger: silentLogger });
      cleanups.push(() => client.close());
      expect(client.transport.kind).toBe('eventhubs');
      await publishTen(transport, topic, type, 'e');
      const group = `svc-${randomUUID()}`;
      const subscribe = (): AsyncIterable<ReceivedEvent<unknown>> => client[method]({ group });

      // Four finished, a break on the fifth: the checkpoint is after e-3 (offset 3), whichever batch e-4 was in.
      expect(await take(subscribe(), 5)).toEqual(ids('e', 0, 5));
      expect(await transport.committedOffsets(group, topic)).toEqual([4]);
      // Two finished (e-4, e-5), a crash on e-6: the checkpoint is after e-5.
      await expect(take(subscribe(), 10, 2)).rejects.toThrow('crash');
      expect(await transport.committedOffsets(group, topic)).toEqual([6]);
      // A break on the last record leaves it uncommitted too: the loop body that got it did not finish.
      expect(await take(subscribe(), 4)).toEqual(ids('e', 6, 10));
      expect(await transport.committedOffsets(group, topic)).toEqual([9]);
      // Each subscription's first batch started at the checkpoint the one before left.
      const starts = batches.filter((b) => b.length > 0).map((b) => b[0]);
      expect(starts[0]).toBe(0);
      expect(starts).toContain(4);
      expect(starts).toContain(6);
    },
  );
});
