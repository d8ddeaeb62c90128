/**
 * bench:pipeline — sensor samples/s from the replay producer through the log, the featurizer and the
 * drift detector, out as drift events; and the latency from a reading's produce to its vector's verdict.
 *
 * Runs the embedded log, then the real Kafka broker (KAFKA_BROKERS, or a broker this bench starts with
 * scripts/services/kafka.sh on BENCH_KAFKA_PORT, default 19392) at-least-once and exactly-once
 * (transactions: outputs, state checkpoints and offsets commit together). The test users of the
 * bundled sample are replayed `--loops` times (default 4) as fast as the log takes them.
 *
 * Then Event Hubs, at-least-once: the real @azure/event-hubs SDK against the project's local AMQP peer
 * (test/eventhubs/peer.ts, in this process) with checkpoints in Azurite. The peer is not Azure's
 * service: the figure is what the adapter, the SDK and AMQP cost on this machine, not what a namespace's
 * throughput units allow.
 *
 * `--embedded-only` stops after the embedded log (no broker, no Azurite: a quick before/after figure);
 * `--vector-encoding json|binary` picks the featurizer's vector body (default binary).
 *
 * Latency: for each feature vector, (time the detector finished the batch holding it) − (time the last
 * readings record of its window was appended to the log); p50/p99 over all vectors.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { VectorEncoding } from '../consumers/featurizer/processor.ts';
import { driftDetectorConsumer, featurizerConsumer } from '../consumers/index.ts';
import { parseInjection } from '../producers/replay/inject.ts';
import { replay } from '../producers/replay/replay.ts';
import { drained } from '../src/cli/drain.ts';
import { loadRecordings } from '../src/data/hapt.ts';
import { silentLogger } from '../src/log/logger.ts';
import { decodeEvent } from '../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../src/schemas/registry.ts';
import { namespacedTopics, topicSpecs } from '../src/topics.ts';
import { EmbeddedLog } from '../src/transport/embedded/log.ts';
import { EventHubsTransport } from '../src/transport/eventhubs/eventhubs-transport.ts';
import { KafkaTransport } from '../src/transport/kafka/kafka-transport.ts';
import { KAFKA_DEFAULTS } from '../src/transport/kafka/options.ts';
import { readTopic } from '../src/transport/read.ts';
import type { RecordBatch, Transport } from '../src/transport/types.ts';
import { EventHubsPeer } from '../test/eventhubs/peer.ts';
import { startAzurite } from '../test/setup/azurite.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1];
};
const loops = Number(arg('--loops', '4'));
const vectorEncoding = arg('--vector-encoding', 'binary') as VectorEncoding;
const embeddedOnly = process.argv.includes('--embedded-only');
const recordings = (() => {
  const seen = new Set<number>();
  return loadRecordings('test', 'sample').filter((r) => !seen.has(r.user) && seen.add(r.user));
})();

interface Result {
  samples: number;
  seconds: number;
  samplesPerSecond: number;
  vectors: number;
  driftEvents: number;
  p50: number;
  p99: number;
}

async function measure(transport: Transport, exactlyOnce: boolean): Promise<Result> {
  const topics = namespacedTopics(`bench-${randomUUID().slice(0, 8)}`);
  await transport.ensureTopics(topicSpecs(3, topics));
  const run = randomUUID().slice(0, 8);
  const verdictAt = new Map<string, number>();
  const featurizer = featurizerConsumer(
    { transport, topics, groupId: `f-${run}`, exactlyOnce, logger: silentLogger },
    { vectorEncoding },
  );
  const detector = driftDetectorConsumer({ transport, topics, groupId: `d-${run}`, exactlyOnce, logger: silentLogger });
  // Stamp each vector's verdict time: wrap the detector's processing.
  const process = detector.processor.process.bind(detector.processor);
  detector.processor.process = (batch: RecordBatch) => {
    const out = process(batch);
    const now = Date.now();
    for (const r of batch.records) verdictAt.set(`${r.partition}:${r.offset}`, now);
    return out;
  };
  await featurizer.consumer.start();
  await detector.consumer.start();
  const producer = await transport.producer();
  const started = performance.now();
  const stats = await replay(producer, {
    recordings,
    loops,
    speed: 'max',
    drift: { fromLoop: 1, injection: parseInjection('rotation:z:45') },
    topic: topics.sensorReadings,
  });
  await drained(transport, [
    [`f-${run}`, topics.sensorReadings],
    [`d-${run}`, topics.features],
  ]);
  const seconds = (performance.now() - started) / 1000;
  await producer.close();
  await featurizer.consumer.stop();
  await detector.consumer.stop();
  // Latency per vector: the readings record that completed its window → the detector's verdict.
  const appended = new Map<string, number>();
  for await (const r of readTopic(transport, topics.sensorReadings))
    appended.set(`${r.partition}:${r.offset}`, r.timestamp);
  const latencies: number[] = [];
  for await (const r of readTopic(transport, topics.features)) {
    const v = decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.featureVector] }).data;
    const produced = appended.get(`${v.source.partition}:${v.source.lastOffset}`);
    const verdict = verdictAt.get(`${r.partition}:${r.offset}`);
    if (produced !== undefined && verdict !== undefined) latencies.push(verdict - produced);
  }
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  // Counted by reading: with transactions, end offsets also count the commit markers.
  let driftEvents = 0;
  for await (const _ of readTopic(transport, topics.driftEvents)) driftEvents++;
  return {
    samples: stats.samples,
    seconds,
    samplesPerSecond: stats.samples / seconds,
    vectors: latencies.length,
    driftEvents,
    p50: q(0.5),
    p99: q(0.99),
  };
}

function show(name: string, r: Result) {
  console.log(
    `${name.padEnd(26)} ${r.samples.toLocaleString('en').padStart(10)} samples in ${r.seconds.toFixed(1).padStart(5)} s = ${Math.round(r.samplesPerSecond).toLocaleString('en').padStart(8)} samples/s (${Math.round(r.samplesPerSecond / 50)} phones at 50 Hz); ${r.vectors} vectors, ${r.driftEvents} drift events; latency p50 ${r.p50} ms, p99 ${r.p99} ms`,
  );
}

const embedded = new EmbeddedLog({ logger: silentLogger });
const emb = await measure(embedded, false);
await embedded.close();
show(`embedded log (${vectorEncoding} vectors)`, emb);
if (embeddedOnly) process.exit(0);

let brokers = process.env.KAFKA_BROKERS;
let stopBroker = () => {};
if (!brokers) {
  const port = process.env.BENCH_KAFKA_PORT ?? '19392';
  const script = path.resolve(import.meta.dirname, '../scripts/services/kafka.sh');
  const env = { ...process.env, KAFKA_PORT: port, KAFKA_FRESH: '1' };
  console.log(execFileSync('bash', [script, 'start'], { env }).toString().trim());
  brokers = `127.0.0.1:${port}`;
  stopBroker = () => execFileSync('bash', [script, 'stop'], { env });
}
const kafka = () =>
  new KafkaTransport({
    ...KAFKA_DEFAULTS,
    brokers: brokers!.split(','),
    clientId: 'bench-pipeline',
  });
try {
  const t1 = kafka();
  const alo = await measure(t1, false);
  await t1.close();
  show('kafka, at-least-once', alo);
  const t2 = kafka();
  const eos = await measure(t2, true);
  await t2.close();
  show('kafka, exactly-once', eos);
  const peer = new EventHubsPeer();
  await peer.start();
  process.env.TEST_AZURITE_PORT ??= '19592';
  const azurite = await startAzurite();
  if (!azurite.connectionString) throw new Error(azurite.error);
  const t3 = new EventHubsTransport({
    connectionString: peer.connectionString(),
    checkpoint: { connectionString: azurite.connectionString, container: 'bench' },
    readConsumerGroup: '$default',
    maxWaitMs: 200,
    loadBalancingIntervalMs: 1000,
    ownershipExpirationMs: 5000,
    provisioner: { ensureHub: async (spec) => peer.createHub(spec.topic, spec.partitions ?? 3) },
  });
  const ehs = await measure(t3, false);
  await t3.close();
  await peer.stop();
  await azurite.stop?.();
  show('eventhubs, at-least-once', ehs);
  const cost = 1 - eos.samplesPerSecond / alo.samplesPerSecond;
  console.log(`exactly-once costs ${(cost * 100).toFixed(1)} % of the at-least-once throughput`);
  console.log(
    JSON.stringify({
      samples_per_s: Math.round(alo.samplesPerSecond),
      phones_at_50hz: Math.round(alo.samplesPerSecond / 50),
      p50_ms: alo.p50,
      p99_ms: alo.p99,
      records_per_s_alo: Math.round(alo.samplesPerSecond / 50),
      records_per_s_eos: Math.round(eos.samplesPerSecond / 50),
      samples_per_s_eos: Math.round(eos.samplesPerSecond),
      eos_p50_ms: eos.p50,
      eos_p99_ms: eos.p99,
      eos_cost: Number(cost.toFixed(3)),
      embedded_samples_per_s: Math.round(emb.samplesPerSecond),
      eventhubs_samples_per_s: Math.round(ehs.samplesPerSecond),
      eventhubs_p50_ms: ehs.p50,
      eventhubs_p99_ms: ehs.p99,
      samples: alo.samples,
    }),
  );
} finally {
  stopBroker();
}
