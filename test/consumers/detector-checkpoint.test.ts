import { beforeAll, describe, expect, it } from 'vitest';
import { DriftDetectorProcessor } from '../../consumers/drift-detector/processor.ts';
import { mulberry32 } from '../../producers/replay/inject.ts';
import type { StreamSnapshot } from '../../src/pipeline/checkpoint.ts';
import { decodeEvent } from '../../src/schemas/cloudevents.ts';
import type { ConsumedRecord, OutgoingRecord } from '../../src/transport/types.ts';
import { scenarioFeatures } from './scenario.ts';

/** Feature vectors of the bundled test users, replayed twice with a rotation the second time, per partition. */
let partitions: ConsumedRecord[][] = [];

beforeAll(async () => {
  partitions = await scenarioFeatures();
}, 180_000);

const ids = (out: OutgoingRecord[]) =>
  out.filter((o) => o.headers?.ce_type?.includes('drift')).map((o) => o.headers!.ce_id);
const triggerOffset = (o: OutgoingRecord) =>
  (decodeEvent(o.headers!, o.value).data as { window: { toOffset: number } }).window.toOffset;

function run(processor: DriftDetectorProcessor, records: ConsumedRecord[], batch = 37): OutgoingRecord[] {
  const out: OutgoingRecord[] = [];
  for (let i = 0; i < records.length; i += batch) {
    const slice = records.slice(i, i + batch);
    out.push(
      ...processor.process({ topic: slice[0].topic, partition: slice[0].partition, records: slice, highWatermark: 0 }),
    );
  }
  return out;
}

describe('drift detector checkpoints', () => {
  it('a detector restored from a checkpoint after a crash emits what an uninterrupted one does', () => {
    const random = mulberry32(7);
    let crashes = 0;
    for (const records of partitions) {
      if (records.length < 200) continue;
      const reference = run(new DriftDetectorProcessor(), records);
      expect(ids(reference).length).toBeGreaterThan(0);
      for (let trial = 0; trial < 4; trial++) {
        crashes++;
        // Processed up to `crash`, committed up to `committed` (commits lag), checkpointed every 100 records.
        const crash = 100 + Math.floor(random() * (records.length - 150));
        const committed = Math.floor(random() * crash);
        const a = new DriftDetectorProcessor();
        const published: OutgoingRecord[] = [];
        const store = new Map<string, StreamSnapshot>();
        let watermark = -1;
        for (let i = 0; i < crash; i += 100) {
          const slice = records.slice(i, Math.min(crash, i + 100));
          published.push(...run(a, slice));
          if (i + 100 <= crash) {
            for (const s of a.takeCheckpoint(slice[0].partition)) store.set(s.key, s);
            watermark = slice[slice.length - 1].offset;
          }
        }
        const b = new DriftDetectorProcessor();
        b.restore(records[0].partition, [...store.values()]);
        const from = records.findIndex((r) => r.offset > watermark);
        if (committed > from) run(b, records.slice(from, committed)); // state only: outputs discarded
        const resumed = run(b, records.slice(committed));

        const all = new Set([...ids(published.filter((o) => triggerOffset(o) < crash)), ...ids(resumed)]);
        expect([...all].sort()).toEqual(ids(reference).sort());
        // After the restore nothing at or below the checkpoint comes out a second time.
        const firstNew = Math.max(committed, from);
        expect(ids(resumed)).toEqual(ids(reference.filter((o) => triggerOffset(o) >= records[firstNew].offset)));
      }
    }
    expect(crashes).toBeGreaterThanOrEqual(8);
  });

  it('refuses a corrupted checkpoint with a clear error', () => {
    const records = partitions.find((r) => r.length > 100)!;
    const a = new DriftDetectorProcessor();
    run(a, records.slice(0, 100));
    const [snap] = a.takeCheckpoint(records[0].partition);
    const bytes = Uint8Array.from(snap.bytes);
    bytes[bytes.length - 20] ^= 0xff;
    expect(() => new DriftDetectorProcessor().restore(records[0].partition, [{ ...snap, bytes }])).toThrow(
      /snapshot is invalid|checkpoint is invalid/,
    );
    expect(a.takeCheckpoint(records[0].partition)).toEqual([]);
  });
});
