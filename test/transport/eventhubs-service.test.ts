import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { TransportError } from '../../src/errors.ts';
import { topicSpecs } from '../../src/topics.ts';
import type { ConsumedRecord } from '../../src/transport/types.ts';
import { usePeer } from '../eventhubs/harness.ts';
import { waitFor } from '../support/wait.ts';

const { peer, transport: makeTransport } = usePeer();

/** What only Event Hubs does: hubs made elsewhere, the service closing connections, ownership moving. */
describe('Event Hubs transport against the service', () => {
  it('lists the missing event hubs and how to create them, instead of creating them', async () => {
    const transport = await makeTransport({ provisioner: undefined });
    try {
      const prefix = `m-${randomUUID()}`;
      peer.createHub(`${prefix}.features`, 3);
      const err = await transport
        .ensureTopics([
          { topic: `${prefix}.features`, partitions: 3 },
          { topic: `${prefix}.drift-events`, partitions: 1 },
          { topic: `${prefix}.dead-letter`, partitions: 1 },
        ])
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransportError);
      expect((err as TransportError).retriable).toBe(false);
      expect((err as Error).message).toContain(`${prefix}.drift-events, ${prefix}.dead-letter`);
      expect((err as Error).message).not.toContain(`${prefix}.features,`);
      expect((err as Error).message).toContain('az eventhubs eventhub create');
    } finally {
      await transport.close();
    }
  });

  it('loses nothing when the service closes every connection mid-stream', { timeout: 60_000 }, async () => {
    const transport = await makeTransport();
    try {
      const topic = `drop-${randomUUID()}`;
      await transport.ensureTopics([{ topic, partitions: 2 }]);
      const producer = await transport.producer();
      const seen: ConsumedRecord[] = [];
      const sub = await transport.subscribe({
        groupId: `g-${randomUUID()}`,
        topics: [topic],
        handler: async (batch) => {
          seen.push(...batch.records);
        },
      });
      const publish = (from: number) =>
        producer.publish(
          Array.from({ length: 50 }, (_, i) => ({ topic, key: `k${i % 5}`, value: Buffer.from(String(from + i)) })),
        );
      await publish(0);
      await waitFor(() => seen.length >= 50, 'the first 50');
      peer.dropConnections();
      await sleep(200);
      await publish(50);
      await waitFor(() => new Set(seen.map((r) => r.value.toString())).size >= 100, 'all 100 after reconnecting');
      expect([...new Set(seen.map((r) => Number(r.value.toString())))].sort((a, b) => a - b)).toEqual(
        Array.from({ length: 100 }, (_, i) => i),
      );
      await sub.stop();
    } finally {
      await transport.close();
    }
  });

  it('hands a stopped member’s partitions to the one left, from its checkpoints', { timeout: 60_000 }, async () => {
    const transport = await makeTransport();
    try {
      const topic = `lb-${randomUUID()}`;
      await transport.ensureTopics([{ topic, partitions: 4 }]);
      const groupId = `g-${randomUUID()}`;
      const seen: ConsumedRecord[] = [];
      const member = () =>
        transport.subscribe({
          groupId,
          topics: [topic],
          handler: async (batch) => {
            seen.push(...batch.records);
          },
        });
      const a = await member();
      const b = await member();
      await waitFor(() => a.assignments().length === 2 && b.assignments().length === 2, 'two partitions each');
      const producer = await transport.producer();
      await producer.publish(
        Array.from({ length: 200 }, (_, i) => ({ topic, key: `dev-${i % 20}`, value: Buffer.from(String(i)) })),
      );
      await waitFor(() => new Set(seen.map((r) => r.value.toString())).size >= 200, 'the first 200');
      await a.stop();
      // While the two members first balanced, both may have read a partition for a moment (Event Hubs'
      // ownership is claimed, then noticed): at-least-once allows those copies. From the hand-over on,
      // what the one left reads must start at the stopped member's checkpoints.
      const handedOver = seen.length;
      await waitFor(() => b.assignments().length === 4, 'the remaining member to own all four partitions');
      await producer.publish(
        Array.from({ length: 200 }, (_, i) => ({ topic, key: `dev-${i % 20}`, value: Buffer.from(String(200 + i)) })),
      );
      await waitFor(() => new Set(seen.map((r) => r.value.toString())).size >= 400, 'the next 200');
      // Every checkpoint at the end: nothing more is delivered, the records seen are final.
      const ends = await transport.endOffsets(topic);
      await waitFor(
        async () => JSON.stringify(await transport.committedOffsets(groupId, topic)) === JSON.stringify(ends),
        'checkpoints at the end of every partition',
      );
      // Nothing skipped; after the hand-over nothing twice and nothing from before it again: the
      // checkpoints were written before the hand-over.
      expect([...new Set(seen.map((r) => Number(r.value.toString())))].sort((x, y) => x - y)).toEqual(
        Array.from({ length: 400 }, (_, i) => i),
      );
      expect(
        seen
          .slice(handedOver)
          .map((r) => Number(r.value.toString()))
          .sort((x, y) => x - y),
      ).toEqual(Array.from({ length: 200 }, (_, i) => 200 + i));
      expect(await transport.committedOffsets(groupId, topic)).toEqual(await transport.endOffsets(topic));
      await b.stop();
    } finally {
      await transport.close();
    }
  });

  it('commits part of a batch: a handler that throws after commit(offset) gets only the records after it', async () => {
    const transport = await makeTransport();
    try {
      const topic = `part-${randomUUID()}`;
      await transport.ensureTopics([{ topic, partitions: 1 }]);
      const producer = await transport.producer();
      await producer.publish(Array.from({ length: 8 }, (_, i) => ({ topic, key: 'k', value: Buffer.from(String(i)) })));
      const groupId = `g-${randomUUID()}`;
      const deliveries: number[][] = [];
      let failed = false;
      const sub = await transport.subscribe({
        groupId,
        topics: [topic],
        handler: async (batch, context) => {
          deliveries.push(batch.records.map((r) => r.offset));
          const third = batch.records.find((r) => r.offset === 2);
          if (!failed && third) {
            await context.commit!(2);
            expect(await transport.committedOffsets(groupId, topic)).toEqual([3]);
            failed = true;
            throw new Error('after the commit');
          }
        },
      });
      await waitFor(async () => (await transport.committedOffsets(groupId, topic))[0] === 8, 'the checkpoint at 8');
      await sub.stop();
      // The failed delivery, then the same batch from offset 3: nothing committed is handed over again.
      const failedAt = deliveries.findIndex((d) => d.includes(2));
      expect(deliveries[failedAt + 1][0]).toBe(3);
      expect(deliveries.slice(failedAt + 1).flat()).toEqual([3, 4, 5, 6, 7]);
    } finally {
      await transport.close();
    }
  });

  it('checks the topics of the project, without creating, when the hubs exist', async () => {
    const transport = await makeTransport();
    try {
      const specs = topicSpecs(2);
      for (const s of specs) peer.createHub(s.topic, s.partitions ?? 3);
      const checker = await makeTransport({ provisioner: undefined });
      await expect(checker.ensureTopics(specs)).resolves.toBeUndefined();
      await checker.close();
    } finally {
      await transport.close();
    }
  });
});
