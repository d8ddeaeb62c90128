import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { StoppingError, TimeoutError } from '../../src/errors.ts';
import { createLogger } from '../../src/log/logger.ts';
import { KafkaTransport } from '../../src/transport/kafka/kafka-transport.ts';
import { KAFKA_DEFAULTS } from '../../src/transport/kafka/options.ts';
import type { ConsumedRecord, TopicPartition } from '../../src/transport/types.ts';
import { requireKafka } from '../setup/services.ts';
import { waitFor } from '../support/wait.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(partitions: number) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  const transport = new KafkaTransport({
    ...KAFKA_DEFAULTS,
    brokers: requireKafka(),
    clientId: 'subscription-hooks',
    logger: createLogger({ destination: sink as never }),
  });
  cleanups.push(() => transport.close());
  const topic = `hooks-${randomUUID()}`;
  await transport.ensureTopics([{ topic, partitions }]);
  const producer = await transport.producer();
  cleanups.push(() => producer.close());
  return { transport, topic, producer, lines };
}

describe('kafka subscription: partition hooks', () => {
  it('a failed onAssigned (a restore that timed out) is logged, assigned again on a rejoin, and no batch runs before it succeeds', async () => {
    const { transport, topic, producer, lines } = await setup(2);
    await producer.publish(
      Array.from({ length: 40 }, (_, i) => ({ topic, key: `k${i}`, value: Buffer.from(String(i)), partition: i % 2 })),
    );
    const calls: TopicPartition[][] = [];
    let succeeded = false;
    let beforeRestore = 0;
    const seen: ConsumedRecord[] = [];
    const sub = await transport.subscribe({
      groupId: `g-${randomUUID()}`,
      topics: [topic],
      onAssigned: async (partitions) => {
        calls.push(partitions);
        if (calls.length === 1) throw new TimeoutError('reading the checkpoint took too long');
        succeeded = true;
      },
      handler: async (batch) => {
        if (!succeeded) beforeRestore += batch.records.length;
        seen.push(...batch.records);
      },
    });
    cleanups.push(() => sub.stop());

    await waitFor(() => seen.length >= 40, 'all 40 records after the failed onAssigned');
    expect(beforeRestore).toBe(0);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(new Set(calls.at(-1)?.map((tp) => tp.partition))).toEqual(new Set([0, 1]));
    expect(new Set(seen.map((r) => `${r.partition}/${r.offset}`)).size).toBe(40);
    expect(sub.assignments()).toHaveLength(2);
    const failed = lines.find((l) => l.msg === 'onAssigned failed; rejoining the group');
    expect(failed).toMatchObject({ err: { message: 'reading the checkpoint took too long', code: 'TIMEOUT' } });
  }, 60_000);

  it('a failed onRevoked does not stop the partitions being assigned to the member that joins', async () => {
    const { transport, topic, producer, lines } = await setup(2);
    const groupId = `g-${randomUUID()}`;
    const a: ConsumedRecord[] = [];
    const b: ConsumedRecord[] = [];
    const subA = await transport.subscribe({
      groupId,
      topics: [topic],
      onRevoked: async () => {
        throw new Error('flushing the checkpoint failed');
      },
      handler: async (batch) => {
        a.push(...batch.records);
      },
    });
    cleanups.push(() => subA.stop().catch(() => {}));
    await waitFor(() => subA.assignments().length === 2, 'the first member to own both partitions');
    const subB = await transport.subscribe({
      groupId,
      topics: [topic],
      handler: async (batch) => {
        b.push(...batch.records);
      },
    });
    cleanups.push(() => subB.stop());
    await waitFor(() => subA.assignments().length === 1 && subB.assignments().length === 1, 'one partition each');
    await producer.publish(
      Array.from({ length: 20 }, (_, i) => ({ topic, key: `k${i}`, value: Buffer.from(String(i)), partition: i % 2 })),
    );
    await waitFor(() => a.length >= 10 && b.length >= 10, 'both members to read their partition');
    expect(lines.some((l) => l.msg === 'onRevoked failed')).toBe(true);
  }, 60_000);

  it('a batch handed back on stop (StoppingError) is neither committed nor logged as a failure', async () => {
    const { transport, topic, producer, lines } = await setup(1);
    await producer.publish([{ topic, key: 'k', value: Buffer.from('waits') }]);
    const groupId = `g-${randomUUID()}`;
    let waiting = false;
    const sub = await transport.subscribe({
      groupId,
      topics: [topic],
      // What the predictor does before its first model version: hold the batch until a stop.
      handler: async (_batch, context) => {
        waiting = true;
        while (!context.stopping) await new Promise((resolve) => setTimeout(resolve, 20));
        throw new StoppingError('stopping before the batch could be processed');
      },
    });
    await waitFor(() => waiting, 'the handler to hold the batch');
    await sub.stop();
    expect(await transport.committedOffsets(groupId, topic)).not.toContain(1);
    expect(lines.filter((l) => (l.level as number) >= 40)).toEqual([]);
  }, 60_000);
});

describe('kafka subscription: broadcast members leave no group behind (issue 15, item 7)', () => {
  /** The groups on the broker whose id starts with `prefix`, with each one's committed offsets on `topic`. */
  async function groupsOf(prefix: string, topic: string) {
    const admin = new Kafka({
      brokers: requireKafka(),
      clientId: 'broadcast-groups',
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      const { groups } = await admin.listGroups();
      const mine = groups.filter((g) => g.groupId.startsWith(prefix)).map((g) => g.groupId);
      return await Promise.all(
        mine.map(async (groupId) => {
          const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
          return { groupId, committed: (entry?.partitions ?? []).map((p) => Number(p.offset)) };
        }),
      );
    } finally {
      await admin.disconnect();
    }
  }

  it('a broadcast member commits nothing, and its group is gone once it stops or the transport closes', async () => {
    const { transport, topic, producer } = await setup(2);
    await producer.publish(
      Array.from({ length: 20 }, (_, i) => ({ topic, key: `k${i}`, value: Buffer.from(String(i)), partition: i % 2 })),
    );
    const prefix = `followers-${randomUUID()}`;
    const seen: ConsumedRecord[][] = [[], []];
    const follow = (into: ConsumedRecord[]) =>
      transport.subscribe({
        groupId: prefix,
        topics: [topic],
        broadcast: true,
        handler: async (batch) => {
          into.push(...batch.records);
        },
      });
    const first = await follow(seen[0]);
    await follow(seen[1]);
    await waitFor(() => seen[0].length >= 20 && seen[1].length >= 20, 'both followers to read the 20 records');
    const running = await groupsOf(prefix, topic);
    expect(running).toHaveLength(2);
    for (const g of running) expect(g.committed.every((o) => o === -1)).toBe(true);

    await first.stop();
    expect(await groupsOf(prefix, topic)).toHaveLength(1);
    // The second one is stopped by the transport's close, as a consumer process's stop does.
    await transport.close();
    expect(await groupsOf(prefix, topic)).toEqual([]);
  }, 30_000);
});
