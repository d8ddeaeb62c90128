import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../producers/replay/inject.ts';
import { drained } from '../../src/cli/drain.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { namespacedTopics, type TopicNames, topicSpecs } from '../../src/topics.ts';
import { KafkaTransport } from '../../src/transport/kafka/kafka-transport.ts';
import type { Transport } from '../../src/transport/types.ts';
import { eventIds, secondDetectorTopics } from '../consumers/scenario.ts';
import { requireKafka } from '../setup/services.ts';
import { runLoop } from '../support/run-loop.ts';
import { waitFor } from '../support/wait.ts';

const CHILD = path.resolve(import.meta.dirname, 'detector-child.ts');

interface DetectorChild {
  process: ChildProcess;
  /** Partitions of the features topic it owns now, as its log says. */
  owned: Set<number>;
  /** Its last log lines, for the message of a failed wait. */
  tail: string[];
}

function startChild(brokers: string[], topics: TopicNames, groupId: string): Promise<DetectorChild> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, brokers.join(','), JSON.stringify(topics), groupId],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const owned = new Set<number>();
  const tail: string[] = [];
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`detector child exited with ${code} before starting`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      tail.push(line.slice(0, 600));
      if (tail.length > 40) tail.shift();
      if (line === 'started') return resolve({ process: child, owned, tail });
      let record: { msg?: string; partitions?: { partition: number }[] };
      try {
        record = JSON.parse(line);
      } catch {
        return;
      }
      if (record.msg === 'partitions assigned')
        for (const { partition } of record.partitions ?? []) owned.add(partition);
      if (record.msg === 'partitions revoked')
        for (const { partition } of record.partitions ?? []) owned.delete(partition);
    });
  });
}

function exited({ process: child }: DetectorChild): Promise<void> {
  return new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()),
  );
}

/**
 * True once the group's committed offset of one of `child`'s partitions has moved past where it stood
 * when first seen owned: only the owner commits (a fenced transaction cannot), so `child` committed work.
 */
function committedBy(transport: Transport, topic: string, groupId: string, child: DetectorChild) {
  const seenAt = new Map<number, number>();
  return async (): Promise<boolean> => {
    const offsets = await transport.committedOffsets(groupId, topic);
    for (const p of child.owned) {
      const at = seenAt.get(p);
      if (at === undefined) seenAt.set(p, offsets[p]);
      else if (offsets[p] > at) return true;
    }
    return false;
  };
}

/**
 * issue 8: a detector killed with SIGKILL at random points and restarted, while ~550,000 samples are
 * replayed, commits exactly the drift events of an uninterrupted run: none missing, none twice.
 */
async function setup(transport: Transport, loops: number, hold?: Promise<void>) {
  const topics = namespacedTopics(`k-${randomUUID()}`);
  await transport.ensureTopics(topicSpecs(3, topics));
  const mine = await secondDetectorTopics(transport, topics);
  const loop = runLoop(
    transport,
    {
      data: 'sample',
      drift: 'rotation:z:45',
      loops,
      speed: 'max',
      partitions: 3,
      topics,
      ...(hold ? { hold: () => hold } : {}),
    },
    silentLogger,
    () => {},
  );
  return { topics, mine, loop, groupId: `killed-detector-${randomUUID()}` };
}

async function expectSameEvents(transport: Transport, reference: string, got: string) {
  const want = await eventIds(transport, reference);
  const have = await eventIds(transport, got);
  expect(want.length).toBeGreaterThan(0);
  expect(have.length - new Set(have).size, 'duplicated drift events').toBe(0);
  expect([...have].sort()).toEqual([...want].sort());
}

async function committedTotal(transport: Transport, groupId: string, topic: string): Promise<number> {
  return (await transport.committedOffsets(groupId, topic)).reduce((a, b) => a + Math.max(0, b), 0);
}

const kafka = (brokers: string[]) =>
  new KafkaTransport({
    brokers,
    clientId: 'fault-test',
    ssl: false,
    replicationFactor: -1,
    connectionTimeoutMs: 10_000,
  });

describe('drift detector instances in one group, one killed mid-stream (real broker, exactly-once)', () => {
  it.each([2, 3])(
    '%i instances: the survivors take over from its checkpoint; same drift events',
    { timeout: 600_000 },
    async (instances) => {
      const brokers = requireKafka();
      const transport = kafka(brokers);
      try {
        // The replay waits until the group has settled: under load the members start slowly, and a first
        // member alone could otherwise read to the end of the partition it keeps before the others join,
        // leaving the victim nothing more to commit.
        let settle = () => {};
        const settled = new Promise<void>((resolve) => {
          settle = resolve;
        });
        const { topics, mine, loop, groupId } = await setup(transport, 4, settled);
        const children: DetectorChild[] = [];
        for (let i = 0; i < instances; i++) children.push(await startChild(brokers, mine, groupId));
        const [victim, ...survivors] = children;
        // The group has settled (every member owns a partition) and the victim has committed work of
        // its own: killing it now leaves partitions, with state, for the survivors to take over.
        await waitFor(() => children.every((c) => c.owned.size > 0), `all ${instances} members to own a partition`, {
          timeoutMs: 120_000,
        });
        settle();
        await waitFor(committedBy(transport, topics.features, groupId, victim), 'the victim to commit offsets', {
          timeoutMs: 120_000,
        }).catch((err: Error) => {
          throw new Error(`${err.message}; the victim's last log lines:\n${victim.tail.join('\n')}`);
        });
        const handedOver = [...victim.owned];
        expect(handedOver.length).toBeGreaterThan(0);
        victim.process.kill('SIGKILL');
        await exited(victim);
        await waitFor(
          () => handedOver.every((p) => survivors.some((c) => c.owned.has(p))),
          `the survivors to take over partitions ${handedOver.join(', ')}`,
          { timeoutMs: 120_000 },
        );
        await loop;
        await drained(transport, [[groupId, topics.features]], 300_000);
        for (const c of survivors) c.process.kill('SIGTERM');
        await Promise.all(survivors.map(exited));
        await expectSameEvents(transport, topics.driftEvents, mine.driftEvents);
      } finally {
        await transport.close();
      }
    },
  );
});

describe('drift detector under SIGKILL (real broker, exactly-once)', () => {
  it('commits the same drift events as an uninterrupted detector', { timeout: 600_000 }, async () => {
    const brokers = requireKafka();
    const transport = kafka(brokers);
    try {
      const { topics, mine, loop, groupId } = await setup(transport, 10);
      const random = mulberry32(11);
      for (let i = 0; i < 4; i++) {
        const child = await startChild(brokers, mine, groupId);
        // Killed at a seeded random point of its progress, after it owned partitions and committed
        // some work: the next instance must take over its checkpoint mid-stream.
        await waitFor(() => child.owned.size > 0, `instance ${i + 1} to own partitions`, { timeoutMs: 120_000 });
        const from = await committedTotal(transport, groupId, topics.features);
        const target = from + 100 + Math.floor(random() * 500);
        await waitFor(
          async () => (await committedTotal(transport, groupId, topics.features)) >= target,
          `instance ${i + 1} to commit ${target - from} feature vectors`,
          { timeoutMs: 120_000 },
        );
        child.process.kill('SIGKILL');
        await exited(child);
      }
      const summary = await loop;
      expect(summary.samples).toBeGreaterThanOrEqual(500_000);
      const last = await startChild(brokers, mine, groupId);
      await drained(transport, [[groupId, topics.features]], 300_000);
      last.process.kill('SIGTERM');
      await exited(last);
      await expectSameEvents(transport, topics.driftEvents, mine.driftEvents);
    } finally {
      await transport.close();
    }
  });
});
