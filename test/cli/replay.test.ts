import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { featurizerConsumer } from '../../consumers/index.ts';
import { topicSpecs } from '../../src/topics.ts';
import { requireKafka, testKafka } from '../setup/services.ts';
import { waitFor } from '../support/wait.ts';

const BIN = path.resolve(import.meta.dirname, '../../bin/activity-tracking.js');

/** `activity-tracking --transport kafka replay ...` on the test broker: its exit code and everything it printed. */
function replay(args: string[]) {
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, '--transport', 'kafka', 'replay', '--speed', 'max', ...args], {
      env: { ...process.env, KAFKA_BROKERS: requireKafka().join(',') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => resolve({ code, out }));
  });
}

/**
 * Issue 15, item 4: a second replay of the same phones restarted every sequence at 0, the featurizer
 * dead-lettered all of it, and replay said nothing and exited 0.
 */
describe('replay is repeatable, and says so when the featurizer refuses it', () => {
  const group = `replay-check-${randomUUID()}`;
  const transport = testKafka('replay-check');
  let stop: () => Promise<void> = async () => {};

  beforeAll(async () => {
    await transport.ensureTopics(topicSpecs(3));
    // Only what is published from now on: the shared broker's sensor-readings may hold other suites' phones.
    const { consumer } = featurizerConsumer({
      transport,
      groupId: group,
      fromBeginning: false,
      checkpointInterval: false,
    });
    await consumer.start();
    stop = () => consumer.stop();
    await waitFor(() => consumer.assignments().length > 0, 'the featurizer to own its partitions');
  }, 30_000);

  afterAll(async () => {
    await stop();
    await transport.close();
  });

  it('a second replay of the same phones is accepted: each run makes phones of its own', {
    timeout: 90_000,
  }, async () => {
    for (let run = 0; run < 2; run++) {
      const r = await replay(['--featurizer-group', group, '--check-timeout', '10']);
      expect(r.code, r.out).toBe(0);
      expect(r.out).toMatch(/read all [\d,]+ messages: none dead-lettered/);
    }
  });

  it('a replay the featurizer dead-letters exits 1 with the count, a reason and where to look', {
    timeout: 90_000,
  }, async () => {
    const runId = `again-${randomUUID().slice(0, 8)}`;
    const first = await replay(['--run-id', runId, '--featurizer-group', group, '--check-timeout', '10']);
    expect(first.code, first.out).toBe(0);
    expect(first.out).toContain(`${runId}-user-`);
    const second = await replay(['--run-id', runId, '--featurizer-group', group, '--check-timeout', '10']);
    expect(second.code, second.out).toBe(1);
    expect(second.out).toMatch(
      /error \[RECORD_REJECTED\]: the featurizer dead-lettered ([\d,]+) of this run's \1 messages \(out-of-order: \1\).*sequence 0, but \d+ was expected.*dead-letter topic from partition 0 offset \d+.*new --run-id/,
    );
  });
});
