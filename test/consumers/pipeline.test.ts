import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { namespacedTopics } from '../../src/topics.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import type { Transport } from '../../src/transport/types.ts';
import { usePeer } from '../eventhubs/harness.ts';
import { testKafka } from '../setup/services.ts';
import { driftScenario } from './scenario.ts';

const eventHubs = usePeer();

/**
 * Replay → featurizer → drift detector → drift events, on real HAPT recordings (the bundled
 * sample's test users, one session each, replayed twice with the phones worn rotated the second time).
 */
describe.each([
  ['embedded', async (): Promise<Transport> => new EmbeddedLog()],
  ['kafka', async (): Promise<Transport> => testKafka('pipeline-test')],
  ['eventhubs', (): Promise<Transport> => eventHubs.transport()],
])('drift pipeline on %s', (_name, makeTransport) => {
  it('reports the injected rotation on every phone and nothing before it', { timeout: 240_000 }, async () => {
    const transport = await makeTransport();
    try {
      const summary = await driftScenario(transport, namespacedTopics(`t-${randomUUID()}`));
      expect(summary.devices).toBe(3);
      expect(summary.deadLetters).toBe(0);
      expect(summary.falseAlarms).toBe(0);
      for (const [device, seconds] of Object.entries(summary.firstDetectionSeconds)) {
        expect(seconds, `${device} detected`).not.toBeNull();
        expect(seconds!).toBeLessThan(120);
      }
      for (const e of summary.driftEvents) {
        expect(e.confirmedBy).toBeGreaterThanOrEqual(3);
        expect(e.window.fromOffset).toBeLessThanOrEqual(e.window.toOffset);
      }
    } finally {
      await transport.close();
    }
  });
});
