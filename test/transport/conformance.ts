import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { missingTopicOf } from '../../src/transport/missing-topic.ts';
import type { ConsumedRecord, Subscription, Transport } from '../../src/transport/types.ts';
import { waitFor } from '../support/wait.ts';

async function committedTotal(transport: Transport, groupId: string, topic: string): Promise<number> {
  return (await transport.committedOffsets(groupId, topic)).reduce((a, b) => a + Math.max(0, b), 0);
}

/**
 * One conformance suite for every adapter of the transport port (STYLE habit
 * 2, bullmq's connection-factory pattern): the semantics the consumers rely on.
 */
export function describeTransport(name: string, makeTransport: () => Promise<Transport>): void {
  describe(`transport conformance: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function setup(partitions = 3) {
      const transport = await makeTransport();
      cleanups.push(() => transport.close());
      const topic = `conf-${randomUUID()}`;
      await transport.ensureTopics([{ topic, partitions }]);
      const producer = await transport.producer();
      cleanups.push(() => producer.close());
      const subscribe = async (
        groupId: string,
        seen: ConsumedRecord[],
        extra: Partial<Parameters<Transport['subscribe']>[0]> = {},
      ) => {
        const sub: Subscription = await transport.subscribe({
          groupId,
          topics: [topic],
          handler: async (batch) => {
            seen.push(...batch.records);
          },
          ...extra,
        });
        cleanups.push(() => sub.stop());
        return sub;
      };
      return { transport, topic, producer, subscribe };
    }

    it('keeps per-key order within a partition and delivers every record once to a group', async () => {
      const { transport, topic, producer, subscribe } = await setup();
      const keys = ['phone-1', 'phone-2', 'phone-3', 'phone-4'];
      const records = [];
      for (let i = 0; i < 200; i++) {
        const key = keys[i % keys.length];
        records.push({ topic, key, value: Buffer.from(`${key}:${i}`), headers: { n: String(i) } });
      }
      await producer.publish(records);
      const seen: ConsumedRecord[] = [];
      const groupId = `g-${randomUUID()}`;
      await subscribe(groupId, seen);
      await waitFor(() => seen.length >= 200, '200 records');
      // Once the group has committed all 200, nothing is delivered again: the count is final.
      await waitFor(async () => (await committedTotal(transport, groupId, topic)) === 200, 'commits of all 200');
      expect(seen).toHaveLength(200);
      for (const key of keys) {
        const mine = seen.filter((r) => r.key === key);
        expect(new Set(mine.map((r) => r.partition)).size).toBe(1);
        const numbers = mine.map((r) => Number(r.headers.n));
        expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
        expect(mine.map((r) => r.value.toString())).toEqual(numbers.map((n) => `${key}:${n}`));
      }
    });

    it('resumes a group from its committed offsets after a restart', async () => {
      const { transport, topic, producer, subscribe } = await setup(2);
      const groupId = `g-${randomUUID()}`;
      await producer.publish(
        Array.from({ length: 50 }, (_, i) => ({ topic, key: `k${i % 5}`, value: Buffer.from(String(i)) })),
      );
      const first: ConsumedRecord[] = [];
      const sub = await subscribe(groupId, first);
      await waitFor(() => first.length >= 50, 'first 50');
      await waitFor(async () => (await committedTotal(transport, groupId, topic)) === 50, 'commits of the first 50');
      await sub.stop();
      await producer.publish(
        Array.from({ length: 30 }, (_, i) => ({ topic, key: `k${i % 5}`, value: Buffer.from(String(50 + i)) })),
      );
      const second: ConsumedRecord[] = [];
      await subscribe(groupId, second);
      await waitFor(() => second.length >= 30, 'next 30');
      await waitFor(async () => (await committedTotal(transport, groupId, topic)) === 80, 'commits of all 80');
      expect(second.map((r) => Number(r.value.toString())).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 30 }, (_, i) => 50 + i),
      );
    });

    it('redelivers a batch whose handler failed, and commits nothing for it', async () => {
      const { topic, producer, subscribe } = await setup(1);
      await producer.publish(
        Array.from({ length: 10 }, (_, i) => ({ topic, key: 'k', value: Buffer.from(String(i)) })),
      );
      const seen: number[] = [];
      let failures = 0;
      await subscribe(`g-${randomUUID()}`, [], {
        handler: async (batch) => {
          if (failures === 0 && batch.records.some((r) => r.offset >= 5)) {
            failures++;
            throw new Error('output not acknowledged');
          }
          for (const r of batch.records) seen.push(r.offset);
        },
        maxBatchSize: 5,
      });
      await waitFor(() => seen.includes(9), 'offset 9');
      expect(failures).toBe(1);
      expect([...new Set(seen)].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(seen.filter((o) => o < 5)).toHaveLength(5);
    });

    // The embedded log once restarted such a partition at offset -1, the "nothing committed" mark: its
    // redelivery was the partition's last record alone, and every record before it was skipped.
    it('redelivers the first batch from where it started when the group has committed nothing yet', async () => {
      const { topic, producer, subscribe } = await setup(1);
      await producer.publish(
        Array.from({ length: 10 }, (_, i) => ({ topic, key: 'k', value: Buffer.from(String(i)) })),
      );
      const seen: number[] = [];
      let failures = 0;
      await subscribe(`g-${randomUUID()}`, [], {
        handler: async (batch) => {
          if (failures === 0) {
            failures++;
            throw new Error('output not acknowledged');
          }
          for (const r of batch.records) seen.push(r.offset);
        },
        maxBatchSize: 5,
      });
      await waitFor(() => seen.includes(9), 'offset 9');
      expect(failures).toBe(1);
      expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it('splits partitions across the members of one group and reports assignments', async () => {
      const { topic, producer, subscribe } = await setup(4);
      const groupId = `g-${randomUUID()}`;
      const a: ConsumedRecord[] = [];
      const b: ConsumedRecord[] = [];
      const assignedA: number[] = [];
      // Partitions that changed hands: only their records may reach both members (at-least-once hand-over).
      const moved = new Set<number>();
      const onRevoked = (tps: { partition: number }[]) => {
        for (const t of tps) moved.add(t.partition);
      };
      const subA = await subscribe(groupId, a, {
        onAssigned: (tps) => void assignedA.push(...tps.map((t) => t.partition)),
        onRevoked,
      });
      const subB = await subscribe(groupId, b, { onRevoked });
      await waitFor(() => subA.assignments().length === 2 && subB.assignments().length === 2, 'two partitions each', {
        timeoutMs: 60_000,
      });
      moved.clear();
      // A split seen once may not hold when the records arrive: on Event Hubs an owner that renews late
      // under load (ownership expires) loses its partitions for a round or two. So records go out in
      // rounds of 100 (every device once and again) until both members have read some, instead of
      // assuming the first round lands on the split seen above.
      let sent = 0;
      const publishRound = async () => {
        const from = sent;
        sent += 100;
        await producer.publish(
          Array.from({ length: 100 }, (_, i) => ({
            topic,
            key: `dev-${i % 40}`,
            value: Buffer.from(String(from + i)),
          })),
        );
      };
      const distinct = () => new Set([...a, ...b].map((r) => r.value.toString())).size;
      await publishRound();
      await waitFor(
        async () => {
          if (a.length > 0 && b.length > 0) return true;
          if (distinct() >= sent) await publishRound();
          return false;
        },
        'both members to read records of their partitions',
        { timeoutMs: 60_000 },
      );
      await waitFor(() => distinct() >= sent, `all ${sent} records`);
      expect(distinct()).toBe(sent);
      // An owner that renewed late may go on reading a partition another member took until its next
      // load-balancing round notices (Event Hubs): judge once no partition is owned by both and every
      // partition a member read but no longer owns has been reported revoked.
      const owned = (sub: Subscription) => new Set(sub.assignments().map((t) => t.partition));
      await waitFor(
        () => {
          const [ownedA, ownedB] = [owned(subA), owned(subB)];
          if ([...ownedA].some((p) => ownedB.has(p))) return false;
          const left = [...a.filter((r) => !ownedA.has(r.partition)), ...b.filter((r) => !ownedB.has(r.partition))];
          return left.every((r) => moved.has(r.partition));
        },
        'the two members to agree on who owns which partition',
        { timeoutMs: 60_000 },
      );
      const partsA = new Set(a.map((r) => r.partition));
      for (const r of b) if (!moved.has(r.partition)) expect(partsA.has(r.partition)).toBe(false);
      expect(assignedA.length).toBeGreaterThan(0);
    });

    it('gives every broadcast subscriber every record', async () => {
      const { topic, producer, subscribe } = await setup(2);
      await producer.publish(
        Array.from({ length: 20 }, (_, i) => ({ topic, key: `k${i % 4}`, value: Buffer.from(String(i)) })),
      );
      const a: ConsumedRecord[] = [];
      const b: ConsumedRecord[] = [];
      await subscribe('followers', a, { broadcast: true });
      await subscribe('followers', b, { broadcast: true });
      await waitFor(() => a.length >= 20 && b.length >= 20, 'both followers to read 20 records');
      const values = (seen: ConsumedRecord[]) => seen.map((r) => Number(r.value.toString())).sort((x, y) => x - y);
      expect(values(a)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(values(b)).toEqual(values(a));
    });

    it('reads back an offset range without a group', async () => {
      const { transport, topic, producer } = await setup(1);
      await producer.publish(
        Array.from({ length: 20 }, (_, i) => ({ topic, key: 'k', value: Buffer.from(String(i)) })),
      );
      const range = await transport.readRange(topic, 0, 5, 9);
      expect(range.map((r) => r.offset)).toEqual([5, 6, 7, 8, 9]);
      expect(range.map((r) => r.value.toString())).toEqual(['5', '6', '7', '8', '9']);
      expect(await transport.endOffsets(topic)).toEqual([20]);
      expect(await transport.readRange(topic, 0, 18, 100)).toHaveLength(2);
    });

    it('publishes to an explicit partition, keeping the key', async () => {
      const { transport, topic, producer } = await setup(3);
      await producer.publish([
        { topic, key: 'state-a', partition: 0, value: Buffer.from('a') },
        { topic, key: 'state-b', partition: 2, value: Buffer.from('b') },
        { topic, key: null, partition: 2, value: Buffer.from('c') },
      ]);
      expect(await transport.endOffsets(topic)).toEqual([1, 0, 2]);
      expect((await transport.readRange(topic, 0, 0, 0)).map((r) => [r.key, r.value.toString()])).toEqual([
        ['state-a', 'a'],
      ]);
      expect((await transport.readRange(topic, 2, 0, 1)).map((r) => [r.key, r.value.toString()])).toEqual([
        ['state-b', 'b'],
        [null, 'c'],
      ]);
    });

    it('refuses to publish to a topic that does not exist, with a clear error', async () => {
      const { producer } = await setup(1);
      await expect(
        producer.publish([{ topic: `missing-${randomUUID()}`, key: 'k', value: Buffer.from('x') }]),
      ).rejects.toThrow(/topic "missing-[^"]+" does not exist/);
    });

    // A consumer started before `topics create` waits for its topics (src/cli/topic-wait.ts): it must
    // tell a missing topic from a log that is down, and learn it at once (kafkajs alone retried for 35 s).
    it('says a topic does not exist at once, in the one shape every adapter raises', async () => {
      const { transport, producer } = await setup(1);
      const topic = `missing-${randomUUID()}`;
      const failures = await Promise.all([
        transport.endOffsets(topic).then(
          () => undefined,
          (err: unknown) => err,
        ),
        producer.publish([{ topic, key: 'k', value: Buffer.from('x') }]).then(
          () => undefined,
          (err: unknown) => err,
        ),
      ]);
      for (const err of failures) {
        expect(missingTopicOf(err), String(err)).toBe(topic);
        expect(err).toMatchObject({ code: 'TRANSPORT', retriable: false });
      }
    });
  });
}
