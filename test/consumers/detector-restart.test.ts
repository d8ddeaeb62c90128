import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { driftDetectorConsumer } from '../../consumers/index.ts';
import { drained } from '../../src/cli/drain.ts';
import { namespacedTopics, topicSpecs } from '../../src/topics.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import type { Transport } from '../../src/transport/types.ts';
import { usePeer } from '../eventhubs/harness.ts';
import { testKafka } from '../setup/services.ts';
import { waitFor } from '../support/wait.ts';
import { driftScenario, eventIds, secondDetectorTopics } from './scenario.ts';

const eventHubs = usePeer();

/**
 * A detector stopped mid-stream and replaced by a new instance of its group
 * continues from the checkpoint of its state: the drift events of the two
 * together are those of an uninterrupted run, none missing, none twice.
 */
const BOTH: [string, boolean][] = [
  ['at-least-once', false],
  ['exactly-once', true],
];

describe.each([
  ['embedded', async (): Promise<Transport> => new EmbeddedLog(), BOTH],
  ['kafka', async (): Promise<Transport> => testKafka('restart-test'), BOTH],
  // Event Hubs has no transactions: at-least-once only (the refusal is tested below).
  ['eventhubs', (): Promise<Transport> => eventHubs.transport(), BOTH.slice(0, 1)],
])('drift detector restart on %s', (_name, makeTransport, modes) => {
  it.each(modes)(
    '%s: a new instance continues from the state checkpoint: same drift events, none twice',
    { timeout: 300_000 },
    async (_mode, exactlyOnce) => {
      const transport = await makeTransport();
      try {
        const topics = namespacedTopics(`r-${randomUUID()}`);
        // The uninterrupted reference: the loop's own detector.
        await driftScenario(transport, topics);
        const reference = await eventIds(transport, topics.driftEvents);
        expect(reference.length).toBeGreaterThan(0);

        const mine = await secondDetectorTopics(transport, topics);
        const groupId = `detector-${randomUUID()}`;
        const total = (await transport.endOffsets(topics.features)).reduce((a, b) => a + b, 0);
        const first = driftDetectorConsumer({ transport, topics: mine, groupId, checkpointInterval: 40, exactlyOnce });
        await first.consumer.start();
        await waitFor(
          async () =>
            (await transport.committedOffsets(groupId, topics.features)).reduce((a, b) => a + Math.max(0, b), 0) >=
            total / 2,
          `the first detector to commit half of the ${total} feature vectors`,
          { timeoutMs: 120_000, intervalMs: 20 },
        );
        await first.consumer.stop();
        const done = (await transport.committedOffsets(groupId, topics.features)).reduce(
          (a, b) => a + Math.max(0, b),
          0,
        );
        expect(done).toBeLessThan(total);

        const second = driftDetectorConsumer({ transport, topics: mine, groupId, checkpointInterval: 40, exactlyOnce });
        await second.consumer.start();
        await drained(transport, [[groupId, topics.features]], 120_000);
        await second.consumer.stop();

        const got = await eventIds(transport, mine.driftEvents);
        expect(new Set(got).size).toBe(got.length);
        expect([...got].sort()).toEqual([...reference].sort());
        expect((await transport.endOffsets(mine.detectorState)).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      } finally {
        await transport.close();
      }
    },
  );
});

describe('an exactly-once detector on Event Hubs', () => {
  it('is refused with the reason, not run weaker', async () => {
    const transport = await eventHubs.transport();
    try {
      const topics = namespacedTopics(`r-${randomUUID()}`);
      await transport.ensureTopics(topicSpecs(3, topics));
      const { consumer } = driftDetectorConsumer({
        transport,
        topics,
        groupId: `d-${randomUUID()}`,
        exactlyOnce: true,
      });
      await expect(consumer.start()).rejects.toThrow(/no transactions.*exactly-once subscription is refused/);
    } finally {
      await transport.close();
    }
  });
});
