import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { drained } from '../../src/cli/drain.ts';
import { namespacedTopics, type TopicNames, topicSpecs } from '../../src/topics.ts';
import { driftScenario, eventIds, secondDetectorTopics } from '../consumers/scenario.ts';
import { usePeer } from '../eventhubs/harness.ts';
import { requireAzurite } from '../setup/services.ts';
import { waitFor } from '../support/wait.ts';

const CHILD = path.resolve(import.meta.dirname, 'eventhubs-detector-child.ts');
const eventHubs = usePeer();

function startChild(topics: TopicNames, groupId: string, container: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(topics), groupId], {
    env: {
      ...process.env,
      EVENTHUBS_CONNECTION_STRING: eventHubs.peer.connectionString(),
      EVENTHUBS_CHECKPOINT_CONNECTION_STRING: requireAzurite(),
      EVENTHUBS_CHECKPOINT_CONTAINER: container,
      EVENTHUBS_MAX_WAIT_MS: '200',
      EVENTHUBS_LOAD_BALANCING_INTERVAL_MS: '1000',
      EVENTHUBS_OWNERSHIP_EXPIRATION_MS: '4000',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`detector child exited with ${code} before starting`)));
    child.stdout!.once('data', () => resolve(child));
  });
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + Math.max(0, b), 0);

/**
 * issue 7: a detector on Event Hubs killed with SIGKILL mid-stream; a new instance takes its partitions
 * over once their ownership expires and continues from the checkpoints (blobs in Azurite, state in the
 * state hub). At-least-once: every drift event of an uninterrupted run is there; one may come twice
 * (outputs acknowledged, checkpoint not yet written), and then with the same CloudEvent id.
 */
describe('drift detector on Event Hubs under SIGKILL', () => {
  it('loses no drift event', { timeout: 300_000 }, async () => {
    const transport = await eventHubs.transport();
    try {
      const topics = namespacedTopics(`e-${randomUUID()}`);
      await transport.ensureTopics(topicSpecs(3, topics));
      const mine = await secondDetectorTopics(transport, topics);
      const groupId = `detector-${randomUUID()}`;
      const container = `kill-${randomUUID()}`;
      const committed = async () => {
        const t = await eventHubs.transport({ checkpoint: { connectionString: requireAzurite(), container } });
        const c = sum(await t.committedOffsets(groupId, topics.features));
        await t.close();
        return c;
      };
      // The child reads the features while the scenario (replay, featurizer, the reference detector)
      // is still writing them, and is killed a few hundred vectors in. The replay holds at half way
      // until the kill is done, so the child cannot have read everything before it dies.
      const first = await startChild(mine, groupId, container);
      let killed!: () => void;
      const kill = new Promise<void>((resolve) => {
        killed = resolve;
      });
      let half = false;
      const scenario = driftScenario(transport, topics, {
        onProgress: (sent, total) => {
          half ||= sent >= total / 2;
        },
        hold: () => (half ? kill : Promise.resolve()),
      });
      await waitFor(async () => (await committed()) >= 300, 'the first detector to commit 300 vectors', {
        timeoutMs: 120_000,
      });
      first.kill('SIGKILL');
      await new Promise((resolve) => first.once('exit', resolve));
      const atKill = await committed();
      killed();
      await scenario;
      const reference = await eventIds(transport, topics.driftEvents);
      expect(reference.length).toBeGreaterThan(0);
      expect(atKill).toBeLessThan(sum(await transport.endOffsets(topics.features)));

      const second = await startChild(mine, groupId, container);
      try {
        const reader = await eventHubs.transport({ checkpoint: { connectionString: requireAzurite(), container } });
        await drained(reader, [[groupId, topics.features]], 120_000);
        await reader.close();
      } finally {
        second.kill('SIGKILL');
      }
      const got = await eventIds(transport, mine.driftEvents);
      expect([...new Set(got)].sort()).toEqual([...reference].sort());
    } finally {
      await transport.close();
    }
  });
});
