import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FEATURE_VECTOR_BINARY_CONTENT_TYPE, READINGS_BINARY_CONTENT_TYPE } from '../../src/schemas/cloudevents.ts';
import type { DriftEvent } from '../../src/schemas/types.gen.ts';
import { namespacedTopics } from '../../src/topics.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import { readTopic } from '../../src/transport/read.ts';
import type { Transport } from '../../src/transport/types.ts';
import { usePeer } from '../eventhubs/harness.ts';
import { testKafka } from '../setup/services.ts';
import { driftScenario } from './scenario.ts';

const eventHubs = usePeer();

/**
 * A drift event without what depends on the log it went through: where it was found and the input offsets
 * of its window (topic names differ, and each transport partitions keys its own way) and its wall-clock time.
 */
const comparable = ({ window: _w, time: _t, detectedAt: _d, ...rest }: DriftEvent) => JSON.stringify(rest);

/**
 * The drift events of the JSON path (JSON readings, JSON vectors: the bodies before issue 17) on the
 * embedded log, computed once: every transport's default binary path must give the same ones. The JSON
 * numbers are the shortest round-trip digits of the float64 values, so the detectors see the same bits.
 */
let jsonPath: Promise<string[]> | undefined;
const jsonPathEvents = () => {
  jsonPath ??= (async () => {
    const transport = new EmbeddedLog();
    try {
      const topics = namespacedTopics(`j-${randomUUID()}`);
      const summary = await driftScenario(transport, topics, { vectorEncoding: 'json', readingsEncoding: 'json' });
      expect(summary.deadLetters).toBe(0);
      expect(await contentTypes(transport, topics.sensorReadings)).toEqual(['application/json']);
      expect(await contentTypes(transport, topics.features)).toEqual(['application/json']);
      return summary.driftEvents.map(comparable).sort();
    } finally {
      await transport.close();
    }
  })();
  return jsonPath;
};

async function contentTypes(transport: Transport, topic: string): Promise<(string | undefined)[]> {
  const types = new Set<string | undefined>();
  for await (const r of readTopic(transport, topic)) types.add(r.headers['content-type']);
  return [...types];
}

/**
 * Replay → featurizer → drift detector → drift events, on real HAPT recordings (the bundled
 * sample's test users, one session each, replayed twice with the phones worn rotated the second time),
 * with the default bodies (readings+binary, feature-vector+binary).
 */
describe.each([
  ['embedded', async (): Promise<Transport> => new EmbeddedLog()],
  ['kafka', async (): Promise<Transport> => testKafka('pipeline-test')],
  ['eventhubs', (): Promise<Transport> => eventHubs.transport()],
])('drift pipeline on %s', (_name, makeTransport) => {
  it('reports the injected rotation on every phone and nothing before it, the same events as the JSON path', {
    timeout: 240_000,
  }, async () => {
    const transport = await makeTransport();
    try {
      const topics = namespacedTopics(`t-${randomUUID()}`);
      const summary = await driftScenario(transport, topics);
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
      expect(await contentTypes(transport, topics.sensorReadings)).toEqual([READINGS_BINARY_CONTENT_TYPE]);
      expect(await contentTypes(transport, topics.features)).toEqual([FEATURE_VECTOR_BINARY_CONTENT_TYPE]);
      expect(summary.driftEvents.map(comparable).sort()).toEqual(await jsonPathEvents());
    } finally {
      await transport.close();
    }
  });
});
