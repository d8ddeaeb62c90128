import { describe, expect, it } from 'vitest';
import { replay } from '../../producers/replay/replay.ts';
import { loadRecordings } from '../../src/data/hapt.ts';
import { decodeEvent, READINGS_BINARY_CONTENT_TYPE } from '../../src/schemas/cloudevents.ts';
import type { OutgoingRecord } from '../../src/transport/types.ts';

const recordings = loadRecordings('test', 'sample').slice(0, 1);

/** The publishes of a replay of one phone, in `encoding`. */
async function publishes(encoding: 'json' | 'binary', publishBatch?: number): Promise<OutgoingRecord[][]> {
  const calls: OutgoingRecord[][] = [];
  await replay(
    { publish: async (records) => void calls.push([...records]), close: async () => {} },
    { recordings, encoding, startTime: 1_700_000_000_000, ...(publishBatch ? { publishBatch } : {}) },
  );
  return calls;
}

describe('replay publishes', () => {
  it('keeps each publish under 1 MiB (Kafka’s default batch limit) whatever the records per publish', async () => {
    const PER_PUBLISH = 1000;
    const calls = await publishes('json', PER_PUBLISH);
    const bytes = calls.map((c) => c.reduce((a, r) => a + r.value.length, 0));
    expect(Math.max(...bytes)).toBeLessThan(1024 * 1024);
    // The byte cap is what split them: that many records would not have fit.
    const records = calls.flat();
    const mean = records.reduce((a, r) => a + r.value.length, 0) / records.length;
    expect(Math.min(records.length, PER_PUBLISH) * mean).toBeGreaterThan(1024 * 1024);
  });

  it('sends the same readings as binary (float64) and as JSON', async () => {
    const [json, binary] = [(await publishes('json')).flat(), (await publishes('binary')).flat()];
    expect(new Set(binary.map((r) => r.headers?.['content-type']))).toEqual(new Set([READINGS_BINARY_CONTENT_TYPE]));
    expect(binary.map((r) => decodeEvent(r.headers ?? {}, r.value).data)).toEqual(
      json.map((r) => decodeEvent(r.headers ?? {}, r.value).data),
    );
  });
});
