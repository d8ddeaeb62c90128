import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
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

const CHILD = path.resolve(import.meta.dirname, 'detector-child.ts');

function startChild(brokers: string[], topics: TopicNames, groupId: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, brokers.join(','), JSON.stringify(topics), groupId],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`detector child exited with ${code} before starting`)));
    child.stdout!.once('data', () => resolve(child));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()),
  );
}

/**
 * issue 8: a detector killed with SIGKILL at random points and restarted, while ~550,000 samples are
 * replayed, commits exactly the drift events of an uninterrupted run: none missing, none twice.
 */
async function setup(transport: Transport, loops: number) {
  const topics = namespacedTopics(`k-${randomUUID()}`);
  await transport.ensureTopics(topicSpecs(3, topics));
  const mine = await secondDetectorTopics(transport, topics);
  const loop = runLoop(
    transport,
    { data: 'sample', drift: 'rotation:z:45', loops, speed: 'max', partitions: 3, topics },
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
        const { topics, mine, loop, groupId } = await setup(transport, 4);
        const children = [];
        for (let i = 0; i < instances; i++) children.push(await startChild(brokers, mine, groupId));
        // Let the group settle and work, then kill one member while the replay is still going.
        await sleep(8000);
        children[0].kill('SIGKILL');
        await exited(children[0]);
        await loop;
        await drained(transport, [[groupId, topics.features]], 300_000);
        for (const c of children.slice(1)) c.kill('SIGTERM');
        await Promise.all(children.slice(1).map(exited));
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
      await sleep(1000);
      const random = mulberry32(11);
      for (let i = 0; i < 4; i++) {
        const child = await startChild(brokers, mine, groupId);
        await sleep(1500 + random() * 4000);
        child.kill('SIGKILL');
        await exited(child);
      }
      const summary = await loop;
      expect(summary.samples).toBeGreaterThanOrEqual(500_000);
      const last = await startChild(brokers, mine, groupId);
      await drained(transport, [[groupId, topics.features]], 300_000);
      last.kill('SIGTERM');
      await exited(last);
      await expectSameEvents(transport, topics.driftEvents, mine.driftEvents);
    } finally {
      await transport.close();
    }
  });
});
