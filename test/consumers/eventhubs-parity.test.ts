import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { DriftEvent } from '../../src/schemas/types.gen.ts';
import { namespacedTopics } from '../../src/topics.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import type { Transport } from '../../src/transport/types.ts';
import { usePeer } from '../eventhubs/harness.ts';
import { driftScenario } from './scenario.ts';

const eventHubs = usePeer();

/** What a drift event says about the phone, independent of where the log put its records. */
function meaning(e: DriftEvent) {
  const { window: _window, detectedAt: _at, ...rest } = e;
  return rest;
}

async function driftEvents(transport: Transport): Promise<unknown[]> {
  try {
    const summary = await driftScenario(transport, namespacedTopics(`p-${randomUUID()}`));
    expect(summary.deadLetters).toBe(0);
    return summary.driftEvents
      .map(meaning)
      .sort((a, b) => `${a.device}${a.time}${a.feature}`.localeCompare(`${b.device}${b.time}${b.feature}`));
  } finally {
    await transport.close();
  }
}

/**
 * issue 7: the same consumers, unchanged, on Event Hubs: the drift scenario gives the same
 * drift events (device, activity, feature, detector statistics, stream time) as on the
 * embedded log, whatever partitions and offsets each log gave the records.
 */
describe('drift events on Event Hubs and on the embedded log', () => {
  it('are the same', { timeout: 240_000 }, async () => {
    const reference = await driftEvents(new EmbeddedLog());
    expect(reference.length).toBeGreaterThan(0);
    expect(await driftEvents(await eventHubs.transport())).toEqual(reference);
  });
});
