import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../producers/replay/inject.ts';
import { drained } from '../../src/cli/drain.ts';
import { runLoop } from '../../src/cli/run.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { namespacedTopics, type TopicNames } from '../../src/topics.ts';
import { KafkaTransport } from '../../src/transport/kafka/kafka-transport.ts';
import { readTopic } from '../../src/transport/read.ts';
import type { Transport } from '../../src/transport/types.ts';
import { requireKafka } from '../setup/services.ts';

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

async function ids(transport: Transport, topic: string): Promise<string[]> {
  const out: string[] = [];
  for await (const r of readTopic(transport, topic)) out.push(r.headers.ce_id);
  return out;
}

/**
 * issue 8: a detector killed with SIGKILL at random points and restarted, while ~550,000 samples are
 * replayed, commits exactly the drift events of an uninterrupted run: none missing, none twice.
 */
describe('drift detector under SIGKILL (real broker, exactly-once)', () => {
  it('commits the same drift events as an uninterrupted detector', { timeout: 600_000 }, async () => {
    const brokers = requireKafka();
    const transport = new KafkaTransport({
      brokers,
      clientId: 'sigkill-test',
      ssl: false,
      replicationFactor: -1,
      connectionTimeoutMs: 10_000,
    });
    try {
      const topics = namespacedTopics(`k-${randomUUID()}`);
      const prefix = `k2-${randomUUID()}`;
      const mine: TopicNames = {
        ...topics,
        driftEvents: `${prefix}.drift-events`,
        detectorState: `${prefix}.detector-state`,
        deadLetter: `${prefix}.dead-letter`,
      };
      const groupId = `killed-detector-${randomUUID()}`;
      const loop = runLoop(
        transport,
        { data: 'sample', drift: 'rotation:z:45', loops: 10, speed: 'max', partitions: 3, topics },
        silentLogger,
        () => {},
      );
      // runLoop creates the shared topics first; the child's own output topics are made here.
      await transport.ensureTopics([
        { topic: mine.driftEvents, partitions: 1 },
        { topic: mine.deadLetter, partitions: 1 },
        { topic: mine.detectorState, partitions: 3, compacted: true },
      ]);
      await sleep(1000);
      const random = mulberry32(11);
      let kills = 0;
      for (let i = 0; i < 4; i++) {
        const child = await startChild(brokers, mine, groupId);
        await sleep(1500 + random() * 4000);
        child.kill('SIGKILL');
        await exited(child);
        kills++;
      }
      const summary = await loop;
      expect(summary.samples).toBeGreaterThanOrEqual(500_000);
      const last = await startChild(brokers, mine, groupId);
      await drained(transport, [[groupId, topics.features]], 300_000);
      last.kill('SIGTERM');
      await exited(last);

      const reference = await ids(transport, topics.driftEvents);
      const got = await ids(transport, mine.driftEvents);
      expect(kills).toBe(4);
      expect(reference.length).toBeGreaterThan(0);
      expect(got.length - new Set(got).size, 'duplicated drift events').toBe(0);
      expect([...got].sort()).toEqual([...reference].sort());
    } finally {
      await transport.close();
    }
  });
});
