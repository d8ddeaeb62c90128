import { beforeAll, describe, expect, it } from 'vitest';
import { DriftDetectorProcessor } from '../../consumers/drift-detector/processor.ts';
import { FeaturizerProcessor } from '../../consumers/featurizer/processor.ts';
import { ReadingsProducer } from '../../producers/readings-producer.ts';
import { loadRecordings } from '../../src/data/hapt.ts';
import { PipelineMetrics } from '../../src/metrics/metrics.ts';
import { TOPICS } from '../../src/topics.ts';
import type { ConsumedRecord, OutgoingRecord } from '../../src/transport/types.ts';
import { asConsumed } from '../support/readings.ts';
import { scenarioFeatures } from './scenario.ts';

/** Feature vectors of the bundled test users, replayed twice with a rotation the second time, per partition. */
let partitions: ConsumedRecord[][] = [];

beforeAll(async () => {
  partitions = await scenarioFeatures();
}, 180_000);

interface Processor {
  process(batch: {
    topic: string;
    partition: number;
    records: ConsumedRecord[];
    highWatermark: number;
  }): OutgoingRecord[];
  takeCheckpoint(partition: number): unknown[];
  readonly evicted: number;
}

/**
 * Every output of `records` fed in batches of `batch`, a checkpoint after each and the clock a minute on:
 * with a two-minute idle time, a stream that got nothing for two batches leaves memory at the next one.
 * Returns the outputs, how often a stream came back from the spill, and the most streams spilled at once.
 */
function feed(p: Processor, clock: { now: number }, records: ConsumedRecord[], batch: number) {
  const out: OutgoingRecord[] = [];
  let back = 0;
  let most = 0;
  for (let i = 0; i < records.length; i += batch) {
    const slice = records.slice(i, i + batch);
    const before = p.evicted;
    out.push(...p.process({ topic: slice[0].topic, partition: slice[0].partition, records: slice, highWatermark: 0 }));
    back += before - p.evicted;
    p.takeCheckpoint(slice[0].partition);
    most = Math.max(most, p.evicted);
    clock.now += 60_000;
  }
  return { out, back, most };
}

const outputs = (out: OutgoingRecord[]) =>
  out.map((o) => `${o.topic}|${o.key}|${o.headers?.ce_id}|${o.value.toString('base64')}`);

describe('idle eviction in the processors', () => {
  // 50: the rings of vector offsets wrap, and are evicted and brought back wrapped.
  it.each([4096, 50])(
    'a drift detector that evicts idle banks and brings them back emits exactly what one that keeps them does (offset memory %i)',
    (offsetMemory) => {
      let back = 0;
      let drifts = 0;
      for (const records of partitions) {
        if (records.length < 200) continue;
        const reference = feed(
          new DriftDetectorProcessor({ eviction: { idleMs: false }, offsetMemory }),
          { now: 0 },
          records,
          40,
        );
        const clock = { now: 0 };
        const metrics = new PipelineMetrics();
        const evicting = new DriftDetectorProcessor({
          eviction: { idleMs: 120_000, clock: () => clock.now },
          offsetMemory,
          metrics,
        });
        const run = feed(evicting, clock, records, 40);
        expect(outputs(run.out)).toEqual(outputs(reference.out));
        drifts += reference.out.length;
        expect(run.most).toBeGreaterThan(0);
        back += run.back;
      }
      // Users change activity: (device, activity) banks go idle and come back in this scenario.
      expect(back).toBeGreaterThan(0);
      expect(drifts).toBeGreaterThan(0);
    },
  );

  it('a featurizer that evicts an idle phone and brings it back emits the same vectors as one that keeps it', async () => {
    const recording = loadRecordings('test', 'sample')[0];
    const producer = new ReadingsProducer({ publish: async () => {}, close: async () => {} });
    const messages = (device: string, from: number, count: number) =>
      Array.from({ length: count }, (_, m) => {
        const s = (from + m) * 50;
        const rows = Array.from({ length: 50 }, (_, i) =>
          Array.from(recording.samples.subarray((s + i) * 6, (s + i) * 6 + 6)),
        );
        return producer.record(device, rows, { timestamp: 1_000_000 + s * 20 });
      });
    // phone-b falls silent for 30 of phone-a's messages, then carries on where it stopped.
    const a = messages('phone-a', 0, 60);
    const b = messages('phone-b', 60, 30);
    const sequence = [
      ...interleave(a.slice(0, 15), b.slice(0, 15)),
      ...a.slice(15, 45),
      ...interleave(a.slice(45), b.slice(15)),
    ];
    const records = asConsumed(sequence, TOPICS.sensorReadings);
    const reference = feed(new FeaturizerProcessor({ eviction: { idleMs: false } }), { now: 0 }, records, 5);
    const clock = { now: 0 };
    const metrics = new PipelineMetrics();
    const evicting = new FeaturizerProcessor({ eviction: { idleMs: 120_000, clock: () => clock.now }, metrics });
    const run = feed(evicting, clock, records, 5);
    expect(reference.out.length).toBeGreaterThan(60);
    expect(outputs(run.out)).toEqual(outputs(reference.out));
    expect([run.most, run.back]).toEqual([1, 1]);
    expect(evicting.devices).toBe(2);
    const gauge = await metrics.stateStreams.get();
    expect(gauge.values.map((v) => [v.labels.state, v.value])).toEqual([
      ['memory', 2],
      ['evicted', 0],
    ]);
  });
});

function interleave<T>(x: T[], y: T[]): T[] {
  const out: T[] = [];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (i < x.length) out.push(x[i]);
    if (i < y.length) out.push(y[i]);
  }
  return out;
}
