import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FEATURE_VECTOR_BINARY_CONTENT_TYPE } from '../../src/schemas/cloudevents.ts';
import { namespacedTopics } from '../../src/topics.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import { readTopic } from '../../src/transport/read.ts';
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

/**
 * The featurizer publishes feature-vector+binary by default; its float64 values are the JSON
 * values bit for bit (JSON's shortest round-trip digits), so the detectors see the same numbers.
 */
describe('vector encodings', () => {
  it('the drift events are the same with JSON and binary feature vectors', { timeout: 240_000 }, async () => {
    const drifts: Record<string, string[]> = {};
    // The same topic names on two logs of their own, so that whole events compare.
    const topics = namespacedTopics(`e-${randomUUID()}`);
    for (const vectorEncoding of ['json', 'binary'] as const) {
      const transport = new EmbeddedLog();
      try {
        const summary = await driftScenario(transport, topics, { vectorEncoding });
        expect(summary.deadLetters).toBe(0);
        const types = new Set<string | undefined>();
        for await (const r of readTopic(transport, topics.features)) types.add(r.headers['content-type']);
        expect([...types]).toEqual([
          vectorEncoding === 'json' ? 'application/json' : FEATURE_VECTOR_BINARY_CONTENT_TYPE,
        ]);
        // Whole events, sorted: the order the detector's partitions are read back in is not the point.
        drifts[vectorEncoding] = summary.driftEvents.map((e) => JSON.stringify(e)).sort();
      } finally {
        await transport.close();
      }
    }
    expect(drifts.binary.length).toBeGreaterThan(0);
    expect(drifts.binary).toEqual(drifts.json);
  });
});
