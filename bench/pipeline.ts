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
 * `--vector-encoding json|binary` picks the featurizer's vector body (default binary), `--readings-encoding
 * json|binary` the replay's readings body (default binary, float64);
 * `--checkpoint-interval N|off` the input records per partition between the consumers' state checkpoints
 * (default 1000, the consumers' own default; `off` shows what the checkpoints cost in latency).
 *
 * State (issue 17): after the embedded run, `state_bytes_per_device` (heap + array buffers of the featurizer's
 * and the detector's state per device, GC-settled: the script runs node with --expose-gc) and
 * `checkpoint_bytes_per_device` (the newest snapshot records per device in the two state topics), with their
 * split per component, per (device, activity) bank and per ADWIN (bench/state-size.ts).
 *
 * Latency: for each feature vector, (time the detector finished the batch holding it) − (timestamp of the
 * readings record that completed its window: its append on the embedded log, the producer's CreateTime on
 * Kafka); p50/p99 over all vectors. Flat out, the stream is overloaded on purpose, so these figures are
 * mostly queueing.
 *
 * Paced mode (`--paced`, or `--paced-only` to skip everything above; issue 17): the same latency at a load
 * the system carries. `--phones N` (default 1000) phones, each sending the last second of its 50 Hz
 * readings (50 samples of the sample recordings, looped) once a second in real time, timestamped with its
 * first sample's instant; the phones' send instants are spread evenly over the second (bench/paced.ts).
 * p50/p99/max over the `--seconds S` (default 20) of the run less a 3 s warm-up, and the p99 from the
 * phone's send instant (which adds the time a reading waited to be sent while the event loop was busy).
 * A run is "not carried" when 1 % of messages left more than 100 ms after their instant, or when the
 * windows of its last 3 s waited over a second (p50): the pipeline fell behind. Then a search for the most
 * phones whose p99 is within 100 ms in a carried run: doubling from 100, then two bisections, each trial
 * `--trial-seconds` (default 12) long (`--no-search` skips it). `--transport embedded|kafka` (default
 * embedded) picks the log; kafka takes the broker as above, and runs at-least-once. The final JSON line
 * gains `paced_p99_ms_<N>_phones` (null, with the reason printed, when the run was not carried) and
 * `max_phones_p99_under_100ms`. Sender, log client, featurizer and detector share this process's event
 * loop, as in the flat-out runs.
 *
 * Scale-out (`--instances 1,2`, or `--instances-only` to skip the single-process runs; issue 17):
 * on Kafka, each count N in turn runs N `featurizer` and N `detector` processes of the CLI in one group
 * each, on topics of `--partitions` (default 4) partitions, while `--fleets` (default 8) copies of the
 * test users replay flat out, twice each, drifted in the second loop (bench/instances.ts). The final JSON
 * line gains `samples_per_s_<N>_instance(s)`, each role's CPU seconds per million samples, and the bytes
 * the topics hold per sample. Figures: docs/performance.md.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { VectorEncoding } from '../consumers/featurizer/processor.ts';
import type { ReadingsEncoding } from '../producers/readings-producer.ts';
import { parseInjection } from '../producers/replay/inject.ts';
import { replay } from '../producers/replay/replay.ts';
import { loadRecordings } from '../src/data/hapt.ts';
import { silentLogger } from '../src/log/logger.ts';
import { EmbeddedLog } from '../src/transport/embedded/log.ts';
import { EventHubsTransport } from '../src/transport/eventhubs/eventhubs-transport.ts';
import { KafkaTransport } from '../src/transport/kafka/kafka-transport.ts';
import { KAFKA_DEFAULTS } from '../src/transport/kafka/options.ts';
import { readTopic } from '../src/transport/read.ts';
import type { Transport } from '../src/transport/types.ts';
import { EventHubsPeer } from '../test/eventhubs/peer.ts';
import { startAzurite } from '../test/setup/azurite.ts';
import { instancesSummary, measureInstances, showInstances } from './instances.ts';
import { chunksOf, maxPhonesWithin, measurePaced, type PacedResult } from './paced.ts';
import { quantile, sorted, startPipeline, vectorTimings } from './pipeline-harness.ts';
import { listenerPid } from './proc.ts';
import { type StateSize, showStateSize, stateSize } from './state-size.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1];
};
const flag = (name: string) => process.argv.includes(name);
const loops = Number(arg('--loops', '4'));
const vectorEncoding = arg('--vector-encoding', 'binary') as VectorEncoding;
const readingsEncoding = arg('--readings-encoding', 'binary') as ReadingsEncoding;
const embeddedOnly = flag('--embedded-only');
const pacedOnly = flag('--paced-only');
const paced = pacedOnly || flag('--paced');
const pacedTransport = arg('--transport', 'embedded');
const phones = Number(arg('--phones', '1000'));
const pacedSeconds = Number(arg('--seconds', '20'));
const trialSeconds = Number(arg('--trial-seconds', '12'));
const checkpoints = arg('--checkpoint-interval', '1000');
const instancesOnly = flag('--instances-only');
const instanceCounts = arg('--instances', instancesOnly ? '1,2' : '')
  .split(',')
  .filter((n) => n !== '')
  .map(Number);
const partitions = Number(arg('--partitions', '4'));
const fleets = Number(arg('--fleets', '8'));
const checkpointInterval = checkpoints === 'off' ? false : Number(checkpoints);
if (pacedTransport !== 'embedded' && pacedTransport !== 'kafka')
  throw new Error(`--transport must be embedded or kafka, got ${pacedTransport}`);
if (!(Number.isInteger(phones) && phones > 0)) throw new Error(`--phones must be a positive integer, got ${phones}`);
if (checkpointInterval !== false && !(Number.isInteger(checkpointInterval) && checkpointInterval > 0))
  throw new Error(`--checkpoint-interval must be a positive integer or off, got ${checkpoints}`);
if (!instanceCounts.every((n) => Number.isInteger(n) && n > 0))
  throw new Error(`--instances must be positive integers separated by commas (1,2), got ${arg('--instances', '')}`);
if (!(Number.isInteger(partitions) && partitions > 0 && Number.isInteger(fleets) && fleets > 0))
  throw new Error('--partitions and --fleets must be positive integers');
if (instanceCounts.length > 0 && checkpointInterval === false)
  throw new Error('--instances runs the CLI, which always checkpoints: drop --checkpoint-interval off');
if (!(pacedSeconds > 5 && trialSeconds > 5)) throw new Error('--seconds and --trial-seconds must be more than 5');
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
  state: StateSize | null;
}

async function measure(transport: Transport, exactlyOnce: boolean): Promise<Result> {
  const pipeline = await startPipeline(transport, { exactlyOnce, vectorEncoding, checkpointInterval });
  const producer = await transport.producer();
  const started = performance.now();
  const stats = await replay(producer, {
    recordings,
    loops,
    speed: 'max',
    drift: { fromLoop: 1, injection: parseInjection('rotation:z:45') },
    topic: pipeline.topics.sensorReadings,
    encoding: readingsEncoding,
  });
  await pipeline.drained();
  const seconds = (performance.now() - started) / 1000;
  await producer.close();
  await pipeline.stop();
  const latencies = sorted((await vectorTimings(pipeline, transport)).map((t) => t.verdict - t.appended));
  // Counted by reading: with transactions, end offsets also count the commit markers.
  let driftEvents = 0;
  for await (const _ of readTopic(transport, pipeline.topics.driftEvents)) driftEvents++;
  return {
    state: await stateSize(transport, pipeline.topics),
    samples: stats.samples,
    seconds,
    samplesPerSecond: stats.samples / seconds,
    vectors: latencies.length,
    driftEvents,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
  };
}

function show(name: string, r: Result) {
  console.log(
    `${name.padEnd(26)} ${r.samples.toLocaleString('en').padStart(10)} samples in ${r.seconds.toFixed(1).padStart(5)} s = ${Math.round(r.samplesPerSecond).toLocaleString('en').padStart(8)} samples/s (${Math.round(r.samplesPerSecond / 50)} phones at 50 Hz); ${r.vectors} vectors, ${r.driftEvents} drift events; latency p50 ${r.p50} ms, p99 ${r.p99} ms`,
  );
}

function showPaced(r: PacedResult, seconds: number) {
  console.log(
    `paced, ${pacedTransport}: ${String(r.phones).padStart(6)} phones × ${seconds} s, ${r.messages} messages, ${r.vectors} vectors; latency p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms (p99 from the send instant ${r.p99FromSend} ms); send lag p99 ${r.lagP99} ms, max ${r.lagMax} ms${r.carried ? '' : ` — not carried: ${r.reason}`}`,
  );
}

/**
 * A broker for the Kafka runs: KAFKA_BROKERS, or one started here (stopped by `stop`). `logDir` is its
 * log.dirs when known (started here, or BENCH_KAFKA_LOG_DIR), for the bytes a topic takes on disk.
 */
function startBroker(): { brokers: string[]; stop: () => void; logDir?: string } {
  if (process.env.KAFKA_BROKERS)
    return {
      brokers: process.env.KAFKA_BROKERS.split(','),
      stop: () => {},
      ...(process.env.BENCH_KAFKA_LOG_DIR ? { logDir: process.env.BENCH_KAFKA_LOG_DIR } : {}),
    };
  const port = process.env.BENCH_KAFKA_PORT ?? '19392';
  const script = path.resolve(import.meta.dirname, '../scripts/services/kafka.sh');
  const env = { ...process.env, KAFKA_PORT: port, KAFKA_FRESH: '1' };
  console.log(execFileSync('bash', [script, 'start'], { env }).toString().trim());
  return {
    brokers: [`127.0.0.1:${port}`],
    stop: () => execFileSync('bash', [script, 'stop'], { env }),
    logDir: path.resolve(import.meta.dirname, `../.data/kafka-${port}/logs`),
  };
}

const summary: Record<string, number | null> = {};
let broker: ReturnType<typeof startBroker> | undefined;
const kafka = () => {
  broker ??= startBroker();
  return new KafkaTransport({ ...KAFKA_DEFAULTS, brokers: broker.brokers, clientId: 'bench-pipeline' });
};

const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
console.log(`load average ${load()} (1, 5, 15 min) at the start`);

try {
  if (!(pacedOnly || instancesOnly)) {
    const embedded = new EmbeddedLog({ logger: silentLogger });
    const emb = await measure(embedded, false);
    await embedded.close();
    show(`embedded log (${readingsEncoding} readings, ${vectorEncoding} vectors)`, emb);
    const { state } = emb;
    if (state) showStateSize(state);
    else console.log('state per device: not measured, the state topics are empty (--checkpoint-interval off)');
    summary.state_bytes_per_device =
      state?.featurizerBytesPerDevice == null || state.detectorBytesPerDevice === null
        ? null
        : Math.round(state.featurizerBytesPerDevice + state.detectorBytesPerDevice);
    summary.checkpoint_bytes_per_device = state
      ? Math.round(state.featurizerCheckpointBytesPerDevice + state.detectorCheckpointBytesPerDevice)
      : null;
    if (!embeddedOnly) {
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
      Object.assign(summary, {
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
      });
    }
  }
  if (paced) {
    const chunks = chunksOf(recordings);
    const run = async (n: number, seconds: number) => {
      const transport = pacedTransport === 'kafka' ? kafka() : new EmbeddedLog({ logger: silentLogger });
      try {
        const r = await measurePaced(transport, {
          phones: n,
          seconds,
          warmupSeconds: 3,
          chunks,
          vectorEncoding,
          checkpointInterval,
        });
        showPaced(r, seconds);
        return r;
      } finally {
        await transport.close();
      }
    };
    const at = await run(phones, pacedSeconds);
    if (!at.carried) console.log(`paced_p99_ms_${phones}_phones is null: ${at.reason}`);
    summary[`paced_p99_ms_${phones}_phones`] = at.carried ? at.p99 : null;
    if (!flag('--no-search')) {
      const max = await maxPhonesWithin(100, (n) => run(n, trialSeconds));
      console.log(`most phones with p99 ≤ 100 ms (${pacedTransport}): ${max ?? 'none of those tried'}`);
      summary.max_phones_p99_under_100ms = max;
    }
  }
  if (instanceCounts.length > 0) {
    broker ??= startBroker();
    // The broker's pid, for its CPU time: the process listening on the first broker's port, when local.
    const [host, port] = broker.brokers[0].split(':');
    const brokerPid = ['127.0.0.1', 'localhost'].includes(host) ? listenerPid(Number(port)) : undefined;
    for (const n of instanceCounts) {
      const transport = kafka();
      try {
        console.log(`load average ${load()} before ${n} instance(s)`);
        const r = await measureInstances({
          transport,
          brokers: broker.brokers,
          instances: n,
          partitions,
          fleets,
          loops: 2,
          recordings,
          vectorEncoding,
          checkpointInterval: checkpointInterval === false ? 1000 : checkpointInterval,
          brokerPid,
          brokerLogDir: broker.logDir,
        });
        showInstances(r);
        console.log(`load average ${load()} after`);
        Object.assign(summary, instancesSummary(r));
      } finally {
        await transport.close();
      }
    }
  }
  console.log(`load average ${load()} at the end`);
  if (Object.keys(summary).length > 0) console.log(JSON.stringify(summary));
} finally {
  broker?.stop();
}
