import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../src/log/logger.ts';
import { decodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import { namespacedTopics } from '../../src/topics.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import { KafkaTransport } from '../../src/transport/kafka/kafka-transport.ts';
import { readTopic } from '../../src/transport/read.ts';
import type { Transport } from '../../src/transport/types.ts';
import { requireKafka } from '../setup/services.ts';
import { runLoop } from '../support/run-loop.ts';
import { waitFor } from '../support/wait.ts';

const run = promisify(execFile);
const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/services/kafka.sh');
// A broker of this suite's own (the shared one serves the other suites meanwhile), next to the shared one's port.
const PORT = String(Number(process.env.TEST_KAFKA_PORT ?? 19092) + 10);
const env = { ...process.env, KAFKA_PORT: PORT };

async function ids(transport: Transport, topic: string): Promise<string[]> {
  const out: string[] = [];
  // Drift-event ids name the features topic they were found in; the runs use different topic names.
  for await (const r of readTopic(transport, topic))
    out.push(r.headers.ce_id.replace(/^[^:]*\.features:/, 'features:'));
  return out.sort();
}

/** Dead letters that are out-of-order copies of readings delivered before them, of all dead letters. */
async function onlyResentDuplicates(
  transport: Transport,
  deadLetter: string,
  readings: string,
): Promise<{ deadLetters: number; duplicates: number }> {
  const first = new Map<string, string>(); // ce_id -> "partition:offset" of its first copy
  for await (const r of readTopic(transport, readings)) {
    if (!first.has(r.headers.ce_id)) first.set(r.headers.ce_id, `${r.partition}:${r.offset}`);
  }
  let deadLetters = 0;
  let duplicates = 0;
  for await (const r of readTopic(transport, deadLetter)) {
    deadLetters++;
    const d = decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.deadLetter] }).data;
    const copy = first.get(String(d.original.headers.ce_id));
    if (d.reason === 'out-of-order' && copy !== undefined && copy !== `${d.original.partition}:${d.original.offset}`)
      duplicates++;
  }
  return { deadLetters, duplicates };
}

/** issue 8: the broker stopped and restarted mid-stream; producers and consumers reconnect by themselves. */
describe('broker restart mid-stream (real broker)', () => {
  beforeAll(async () => {
    requireKafka(); // the suite runs where Kafka can; it fails, never skips, where it cannot
    await run('bash', [SCRIPT, 'start'], { env: { ...env, KAFKA_FRESH: '1' }, timeout: 300_000 });
  }, 300_000);
  afterAll(async () => {
    await run('bash', [SCRIPT, 'stop'], { env });
  });

  it('loses nothing: the same feature vectors and drift events as a run without the restart', {
    timeout: 600_000,
  }, async () => {
    const options = { data: 'sample', drift: 'rotation:z:45', loops: 6, speed: 'max', partitions: 3 } as const;
    const reference = new EmbeddedLog();
    const refTopics = namespacedTopics('ref');
    await runLoop(reference, { ...options, topics: refTopics }, silentLogger, () => {});

    const logger = createLogger({ level: 'info', destination: process.stderr });
    const transport = new KafkaTransport({
      brokers: [`127.0.0.1:${PORT}`],
      clientId: 'restart-test',
      ssl: false,
      replicationFactor: -1,
      connectionTimeoutMs: 5_000,
      sessionTimeoutMs: 6_000,
      // Warnings (consumer crashes, reconnects) reach the CI log: this suite once hung there.
      logger,
    });
    try {
      const topics = namespacedTopics(`b-${randomUUID()}`);
      let loopDone = false;
      let stoppedMidStream = false;
      let progress = 0;
      const loop = runLoop(
        transport,
        { ...options, topics, onProgress: (sent, total) => (progress = sent / total) },
        logger,
        () => {},
      ).finally(() => {
        loopDone = true;
      });
      let restarted = false;
      const restart = (async () => {
        // A tenth into the replay, by the replay's own count (no admin calls to race with the loop's own).
        await waitFor(() => progress >= 0.1 || loopDone, 'the replay to be a tenth through', { timeoutMs: 120_000 });
        stoppedMidStream = !loopDone;
        await run('bash', [SCRIPT, 'stop'], { env });
        // The outage's length is the fault itself, not a wait for something: the broker stays down 3 s.
        await sleep(3000);
        await run('bash', [SCRIPT, 'start'], { env, timeout: 300_000 });
        restarted = true;
      })();
      const summary = await loop;
      await restart;
      expect(restarted).toBe(true);
      expect(stoppedMidStream).toBe(true);
      // The replay's producer is at-least-once: a publish whose acknowledgement the outage swallowed is sent
      // again, and the featurizer refuses the second copy as out-of-order. Those are the only dead letters
      // allowed: each must name readings the topic also holds at an earlier offset (nothing lost, nothing twice).
      expect(await onlyResentDuplicates(transport, topics.deadLetter, topics.sensorReadings)).toEqual({
        deadLetters: summary.deadLetters,
        duplicates: summary.deadLetters,
      });
      expect(await ids(transport, topics.features)).toEqual(await ids(reference, refTopics.features));
      expect(await ids(transport, topics.driftEvents)).toEqual(await ids(reference, refTopics.driftEvents));
    } finally {
      await transport.close();
      await reference.close();
    }
  });
});
