import { readFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { measureInstances } from '../../bench/instances.ts';
import { listenerPid } from '../../bench/proc.ts';
import { loadRecordings } from '../../src/data/hapt.ts';
import { requireKafka, testKafka } from '../setup/services.ts';
import { processTree } from '../support/processes.ts';

/** The processes below this one that run the bench's CLI child. */
function cliChildren(): number[] {
  return processTree(process.pid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('cli-child.ts');
    } catch {
      return false;
    }
  });
}

// The plumbing of `bench:pipeline --instances` (issue 17), at the smallest size: what it measures is
// never asserted, only that the run completes, counts what it should, and leaves nothing behind.
describe('bench --instances plumbing (Kafka)', () => {
  const brokers = requireKafka();
  const transport = testKafka('bench-instances-test', brokers);
  afterAll(() => transport.close());

  it('runs 2 featurizer and 2 detector processes in one group each, then removes them, their topics and groups', {
    timeout: 300_000,
  }, async () => {
    const seen = new Set<number>();
    const recordings = loadRecordings('test', 'sample').filter((r) => !seen.has(r.user) && seen.add(r.user));
    const port = Number(brokers[0].split(':')[1]);
    const r = await measureInstances({
      transport,
      brokers,
      instances: 2,
      partitions: 2,
      fleets: 1,
      loops: 2,
      recordings,
      vectorEncoding: 'binary',
      checkpointInterval: 1000,
      brokerPid: listenerPid(port),
      brokerLogDir: undefined,
    });
    expect(r.samples).toBe(recordings.reduce((a, x) => a + x.samples.length / 6, 0) * 2);
    expect(r.readingsPerPartition).toHaveLength(2);
    expect(r.vectors).toBeGreaterThan(0);
    // Each role's processes did the work, so they used CPU; the broker was found and read.
    expect(r.cpu.featurizer).toBeGreaterThan(0);
    expect(r.cpu.detector).toBeGreaterThan(0);
    expect(Number.isFinite(r.cpu.broker)).toBe(true);
    expect(r.stateBytes.featurizerStreams).toBe(r.devices);
    expect(r.binaryReadingsBytesPerSample).toBeLessThan(r.payloadBytes.readings / r.samples);
    expect(cliChildren()).toEqual([]);
    const admin = new Kafka({ brokers, clientId: 'bench-instances-test', logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      expect((await admin.listTopics()).filter((t) => t.startsWith(r.topicPrefix))).toEqual([]);
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
      expect(groups.filter((g) => g.startsWith(r.topicPrefix))).toEqual([]);
    } finally {
      await admin.disconnect();
    }
  });
});
