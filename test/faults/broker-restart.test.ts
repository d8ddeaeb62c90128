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
import { post, readAll, readings, testGateway, token } from '../gateway/support.ts';
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

beforeAll(async () => {
  requireKafka(); // the suite runs where Kafka can; it fails, never skips, where it cannot
  await run('bash', [SCRIPT, 'start'], { env: { ...env, KAFKA_FRESH: '1' }, timeout: 300_000 });
}, 300_000);
afterAll(async () => {
  await run('bash', [SCRIPT, 'stop'], { env });
});

/** A client of this suite's broker; kafkajs's reconnect warnings reach the CI log. */
const suiteKafka = (clientId: string, logger = createLogger({ level: 'info', destination: process.stderr })) =>
  new KafkaTransport({
    brokers: [`127.0.0.1:${PORT}`],
    clientId,
    ssl: false,
    replicationFactor: -1,
    connectionTimeoutMs: 5_000,
    sessionTimeoutMs: 6_000,
    logger,
  });

/** issue 8: the broker stopped and restarted mid-stream; producers and consumers reconnect by themselves. */
describe('broker restart mid-stream (real broker)', () => {
  it('loses nothing: the same feature vectors and drift events as a run without the restart', {
    timeout: 600_000,
  }, async () => {
    const options = { data: 'sample', drift: 'rotation:z:45', loops: 6, speed: 'max', partitions: 3 } as const;
    const reference = new EmbeddedLog();
    const refTopics = namespacedTopics('ref');
    await runLoop(reference, { ...options, topics: refTopics }, silentLogger, () => {});

    // Warnings (consumer crashes, reconnects) reach the CI log: this suite once hung there.
    const logger = createLogger({ level: 'info', destination: process.stderr });
    const transport = suiteKafka('restart-test', logger);
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

/** issue 19: the gateway's backpressure while its broker is gone, and its recovery. */
describe('ingest gateway while the broker is stopped (real broker)', () => {
  it('acknowledges nothing and answers 429 beyond its in-flight bound while the broker is down; after it returns, every batch is in the topic once', {
    timeout: 300_000,
  }, async () => {
    const topic = `gateway-down-${randomUUID()}`;
    const MAX_IN_FLIGHT = 4;
    const current = await testGateway(
      { maxInFlight: MAX_IN_FLIGHT, publishTimeoutMs: 1_000 },
      suiteKafka('gateway-down-test'),
      topic,
    );
    const { gateway, transport } = current;
    try {
      const t = await token('phone-down');
      const batches = Array.from({ length: 12 }, (_, i) => readings('phone-down', i * 50));
      const send = (i: number) => post(gateway, batches[i], { token: t, key: `b${i}`, binary: true });
      expect((await send(0)).status).toBe(200);

      await run('bash', [SCRIPT, 'stop'], { env });
      const down = await Promise.all(batches.slice(1).map((_, i) => send(i + 1)));
      const statuses = down.map((r) => r.status);
      // Admitted batches wait for the broker until publishTimeoutMs (503: retry with the key); the others
      // are refused at once (429 with Retry-After): the gateway never holds more than its bound.
      expect(statuses.filter((s) => s === 200)).toEqual([]);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(batches.length - 1 - MAX_IN_FLIGHT);
      expect(statuses.every((s) => s === 429 || s === 503)).toBe(true);
      expect(down.find((r) => r.status === 429)?.headers.get('retry-after')).toBe('1');
      expect(gateway.details().inFlight).toBeLessThanOrEqual(MAX_IN_FLIGHT);

      await run('bash', [SCRIPT, 'start'], { env, timeout: 300_000 });
      // Each phone retries its batch with the same Idempotency-Key until acknowledged, as a client does.
      const pending = new Set(batches.keys());
      pending.delete(0);
      await waitFor(
        async () => {
          for (const i of [...pending]) if ((await send(i)).status === 200) pending.delete(i);
          return pending.size === 0;
        },
        'every batch to be acknowledged after the broker returned',
        { timeoutMs: 120_000, intervalMs: 500 },
      );
      const records = await readAll(transport, topic);
      const sequences = records.map(
        (r) => decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.sensorReadings] }).data.sequence,
      );
      expect(sequences.sort((a, b) => a - b)).toEqual(batches.map((b) => b.sequence));
    } finally {
      await current.close();
    }
  });
});
