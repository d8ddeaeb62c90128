/**
 * Scale-out on Kafka (issue 17): N featurizer and N drift-detector processes, the CLI's own
 * `featurizer` and `detector` commands (bench/cli-child.ts), one consumer group each, on fresh topics
 * of `partitions` partitions, while this process replays flat out. Measures samples/s, the CPU seconds
 * of each role (children and the broker from /proc, the replay producer from process.cpuUsage) between
 * the replay's start and the moment both groups have committed everything, and what the topics hold
 * per sample (for capacity planning, docs/operations.md).
 *
 * The bundled sample has only 3 test users: 3 devices cannot spread over 4 partitions and 2 instances.
 * `fleets` copies of them are replayed at once under their own device prefixes (`f0-user-2`, ...), so
 * the keys spread over the partitions as a fleet of phones would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import type { VectorEncoding } from '../consumers/featurizer/processor.ts';
import { parseInjection } from '../producers/replay/inject.ts';
import { replay } from '../producers/replay/replay.ts';
import { drained } from '../src/cli/drain.ts';
import type { Recording } from '../src/data/hapt.ts';
import { decodeEvent, encodeEvent, READINGS_BINARY_CONTENT_TYPE } from '../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../src/schemas/registry.ts';
import { namespace, topicSpecs } from '../src/topics.ts';
import { readTopic } from '../src/transport/read.ts';
import type { ConsumedRecord, Transport } from '../src/transport/types.ts';
import { cliEnv } from '../test/support/cli.ts';
import { cpuSeconds } from './proc.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const CHILD = path.join(ROOT, 'bench/cli-child.ts');

export interface InstancesOptions {
  transport: Transport;
  brokers: string[];
  instances: number;
  partitions: number;
  /** Copies of the recordings replayed at once, each under its own device prefix. */
  fleets: number;
  loops: number;
  recordings: Recording[];
  vectorEncoding: VectorEncoding;
  checkpointInterval: number;
  /** The broker's pid, for its CPU time; undefined: not measured. */
  brokerPid: number | undefined;
  /** The broker's log.dirs, for the bytes each topic takes on disk; undefined: not measured. */
  brokerLogDir: string | undefined;
}

export interface InstancesResult {
  /** The prefix of the run's topics and groups (deleted by the time the result is returned). */
  topicPrefix: string;
  instances: number;
  partitions: number;
  samples: number;
  seconds: number;
  samplesPerSecond: number;
  devices: number;
  /** Readings records per partition: how evenly the device keys spread. */
  readingsPerPartition: number[];
  vectors: number;
  driftEvents: number;
  /** CPU seconds of each role over the run (all its processes); NaN where not measured. */
  cpu: { featurizer: number; detector: number; broker: number; producer: number };
  /** Key + value + headers of the records, summed. */
  payloadBytes: { readings: number; features: number; driftEvents: number };
  /** A real readings record's bytes per sample with the float32 binary body (the replay sends float64). */
  binaryReadingsBytesPerSample: number;
  /** The topics' log segments on the broker's disk (batch framing included); NaN where not measured. */
  diskBytes: { readings: number; features: number };
  /** Newest snapshot of each stream, summed: what a compacted state topic holds at least. */
  stateBytes: { featurizer: number; detector: number; featurizerStreams: number; detectorStreams: number };
}

interface Child {
  role: 'featurizer' | 'detector';
  process: ChildProcess;
  output: () => string;
  health?: string;
}

function startChild(role: Child['role'], args: string[], brokers: string[]): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
    cwd: ROOT,
    env: cliEnv({ KAFKA_BROKERS: brokers.join(',') }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Only the tail is kept: the log of a long run is not held in memory.
  let out = '';
  const collect = (c: Buffer) => {
    out = (out + c.toString()).slice(-20_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  return { role, process: child, output: () => out };
}

const exited = (c: Child) => c.process.exitCode !== null || c.process.signalCode !== null;

/** SIGTERM (the consumers commit and leave their groups), then SIGKILL after 30 s. */
async function stopChildren(children: Child[]): Promise<void> {
  await Promise.all(
    children.map(async (c) => {
      if (exited(c)) return;
      const gone = new Promise((resolve) => c.process.once('exit', resolve));
      c.process.kill('SIGTERM');
      const timer = setTimeout(() => c.process.kill('SIGKILL'), 30_000);
      await gone;
      clearTimeout(timer);
    }),
  );
}

/** Polls until every child serves /healthz and each role's instances hold every partition between them. */
async function waitAssigned(children: Child[], partitions: number, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const c of children) {
      if (exited(c)) throw new Error(`${c.role} exited with ${c.process.exitCode}:\n${c.output()}`);
      c.health ??= /"health":"(http:\/\/[^"]+\/healthz)"/.exec(c.output())?.[1];
    }
    if (children.every((c) => c.health)) {
      const held = await Promise.all(
        children.map(async (c) => {
          // /healthz puts the consumer's details beside ok and ready (src/ops/server.ts).
          const body = (await (await fetch(c.health as string)).json()) as { partitions?: unknown[] };
          return body.partitions?.length ?? 0;
        }),
      );
      const settled = (role: Child['role']) => {
        const mine = held.filter((_, i) => children[i].role === role);
        // More instances than partitions leaves some idle, as Kafka would.
        const busy = mine.filter((n) => n > 0).length;
        return busy === Math.min(mine.length, partitions) && mine.reduce((a, n) => a + n, 0) === partitions;
      };
      if (settled('featurizer') && settled('detector')) return;
    }
    if (Date.now() > deadline)
      throw new Error(`the consumer groups did not settle within ${timeoutMs} ms:\n${children[0]?.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const recordBytes = (r: ConsumedRecord) =>
  r.value.length +
  Buffer.byteLength(r.key ?? '') +
  Object.entries(r.headers).reduce((a, [k, v]) => a + Buffer.byteLength(k) + Buffer.byteLength(v), 0);

async function topicBytes(
  transport: Transport,
  topic: string,
): Promise<{ bytes: number; records: number; first?: ConsumedRecord }> {
  let bytes = 0;
  let records = 0;
  let first: ConsumedRecord | undefined;
  for await (const r of readTopic(transport, topic)) {
    bytes += recordBytes(r);
    records++;
    first ??= r;
  }
  return { bytes, records, ...(first ? { first } : {}) };
}

/**
 * Bytes per sample of a real readings record (the replay sends readings+binary with float64 samples, as
 * ReadingsProducer does by default) once re-encoded with the float32 binary body phones can send
 * (readings-binary.ts): same event, same headers, same key.
 */
function binaryBytesPerSample(record: ConsumedRecord): number {
  const event = decodeEvent(record.headers, record.value, { accept: [EVENT_TYPES.sensorReadings] });
  const { attributes: a, data } = event;
  const encoded = encodeEvent({
    type: EVENT_TYPES.sensorReadings,
    source: a.source,
    id: a.id,
    ...(a.subject ? { subject: a.subject } : {}),
    ...(a.time ? { time: a.time } : {}),
    data,
    contentType: READINGS_BINARY_CONTENT_TYPE,
  });
  const bytes = recordBytes({ ...record, value: encoded.value, headers: encoded.headers });
  return bytes / data.samples.length;
}

/** Newest value per key (the checkpoint marker left out): what compaction keeps. */
async function stateBytes(transport: Transport, topic: string): Promise<{ bytes: number; streams: number }> {
  const newest = new Map<string, number>();
  for await (const r of readTopic(transport, topic))
    if (r.key !== null && !r.key.startsWith('\u0000')) newest.set(r.key, recordBytes(r));
  return { bytes: [...newest.values()].reduce((a, b) => a + b, 0), streams: newest.size };
}

function diskBytes(logDir: string | undefined, topic: string): number {
  if (logDir === undefined) return Number.NaN;
  let bytes = 0;
  for (const dir of readdirSync(logDir).filter((d) => d.startsWith(`${topic}-`)))
    for (const f of readdirSync(path.join(logDir, dir)).filter((f) => f.endsWith('.log')))
      bytes += statSync(path.join(logDir, dir, f)).size;
  return bytes;
}

/** One run with `instances` processes per role; its children, topics and groups are gone when it returns. */
export async function measureInstances(o: InstancesOptions): Promise<InstancesResult> {
  const prefix = `bench-inst-${randomUUID().slice(0, 8)}`;
  const ns = namespace(prefix);
  const { topics } = ns;
  const groups = { featurizer: `${prefix}.f`, detector: `${prefix}.d` };
  const admin = new Kafka({ brokers: o.brokers, clientId: 'bench-instances', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const children: Child[] = [];
  try {
    await o.transport.ensureTopics(topicSpecs(o.partitions, topics, ns));
    const common = ['--transport', 'kafka', '--topic-prefix', prefix, '--log-level', 'info'];
    const stateful = ['--metrics-port', '0', '--checkpoint-interval', String(o.checkpointInterval)];
    for (let i = 0; i < o.instances; i++) {
      children.push(
        startChild(
          'featurizer',
          [...common, 'featurizer', '--group', groups.featurizer, ...stateful, '--vector-encoding', o.vectorEncoding],
          o.brokers,
        ),
        startChild('detector', [...common, 'detector', '--group', groups.detector, ...stateful], o.brokers),
      );
    }
    await waitAssigned(children, o.partitions);

    const cpuOf = (role: Child['role']) =>
      children.filter((c) => c.role === role).reduce((a, c) => a + cpuSeconds(c.process.pid as number), 0);
    const brokerCpu = () => (o.brokerPid === undefined ? Number.NaN : cpuSeconds(o.brokerPid));
    const before = { featurizer: cpuOf('featurizer'), detector: cpuOf('detector'), broker: brokerCpu() };
    const producerBefore = process.cpuUsage();
    const producer = await o.transport.producer();
    const started = performance.now();
    const stats = await Promise.all(
      Array.from({ length: o.fleets }, (_, f) =>
        replay(producer, {
          recordings: o.recordings,
          loops: o.loops,
          speed: 'max',
          // As the single-process runs: the phones drift from their second loop on.
          drift: { fromLoop: 1, injection: parseInjection('rotation:z:45') },
          topic: topics.sensorReadings,
          devicePrefix: `f${f}-`,
          // A fleet's 3 devices may hash to one partition: 256 JSON records of 50 samples (5.5 kB each)
          // would pass the broker's default message.max.bytes (1 MB) in one partition's batch.
          publishBatch: 64,
        }),
      ),
    );
    const producerUsage = process.cpuUsage(producerBefore);
    await drained(o.transport, [
      [groups.featurizer, topics.sensorReadings],
      [groups.detector, topics.features],
    ]);
    const seconds = (performance.now() - started) / 1000;
    const cpu = {
      featurizer: cpuOf('featurizer') - before.featurizer,
      detector: cpuOf('detector') - before.detector,
      broker: brokerCpu() - before.broker,
      producer: (producerUsage.user + producerUsage.system) / 1e6,
    };
    await producer.close();
    await stopChildren(children);

    const samples = stats.reduce((a, s) => a + s.samples, 0);
    const readings = await topicBytes(o.transport, topics.sensorReadings);
    const features = await topicBytes(o.transport, topics.features);
    const drift = await topicBytes(o.transport, topics.driftEvents);
    const fState = await stateBytes(o.transport, topics.featurizerState);
    const dState = await stateBytes(o.transport, topics.detectorState);
    const ends = await o.transport.endOffsets(topics.sensorReadings);
    return {
      topicPrefix: prefix,
      instances: o.instances,
      partitions: o.partitions,
      samples,
      seconds,
      samplesPerSecond: samples / seconds,
      devices: stats.reduce((a, s) => a + s.devices, 0),
      readingsPerPartition: ends,
      vectors: features.records,
      driftEvents: drift.records,
      cpu,
      payloadBytes: { readings: readings.bytes, features: features.bytes, driftEvents: drift.bytes },
      binaryReadingsBytesPerSample: readings.first ? binaryBytesPerSample(readings.first) : Number.NaN,
      diskBytes: {
        readings: diskBytes(o.brokerLogDir, topics.sensorReadings),
        features: diskBytes(o.brokerLogDir, topics.features),
      },
      stateBytes: {
        featurizer: fState.bytes,
        detector: dState.bytes,
        featurizerStreams: fState.streams,
        detectorStreams: dState.streams,
      },
    };
  } finally {
    await stopChildren(children);
    await admin.deleteGroups([groups.featurizer, groups.detector]).catch(() => {});
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => {});
    await admin.disconnect();
  }
}

/** The run's lines for the console. */
export function showInstances(r: InstancesResult): void {
  const perM = (cpu: number) => ((cpu / r.samples) * 1e6).toFixed(1);
  console.log(
    `kafka, ${r.instances} featurizer + ${r.instances} detector process(es), ${r.partitions} partitions: ${r.samples.toLocaleString('en')} samples of ${r.devices} devices in ${r.seconds.toFixed(1)} s = ${Math.round(r.samplesPerSecond).toLocaleString('en')} samples/s; readings records per partition ${r.readingsPerPartition.join('/')}; ${r.vectors} vectors, ${r.driftEvents} drift events`,
  );
  console.log(
    `  CPU s per million samples: featurizer ${perM(r.cpu.featurizer)}, detector ${perM(r.cpu.detector)}, broker ${perM(r.cpu.broker)}, replay producer ${perM(r.cpu.producer)}`,
  );
  console.log(
    `  bytes: readings ${(r.payloadBytes.readings / r.samples).toFixed(1)}/sample payload (JSON), ${(r.diskBytes.readings / r.samples).toFixed(1)}/sample on disk, ${r.binaryReadingsBytesPerSample.toFixed(1)}/sample as float32 binary; features ${(r.payloadBytes.features / r.vectors).toFixed(0)}/vector payload, ${(r.diskBytes.features / r.vectors).toFixed(0)}/vector on disk; drift events ${(r.payloadBytes.driftEvents / Math.max(1, r.driftEvents)).toFixed(0)} B each; state: featurizer ${r.stateBytes.featurizer} B in ${r.stateBytes.featurizerStreams} streams, detector ${r.stateBytes.detector} B in ${r.stateBytes.detectorStreams} streams`,
  );
}

/** The run's keys of the bench's final JSON line. */
export function instancesSummary(r: InstancesResult): Record<string, number> {
  const n = `${r.instances}_instance${r.instances === 1 ? '' : 's'}`;
  const perM = (cpu: number) => Number(((cpu / r.samples) * 1e6).toFixed(2));
  return {
    [`samples_per_s_${n}`]: Math.round(r.samplesPerSecond),
    [`featurizer_cpu_s_per_million_samples_${n}`]: perM(r.cpu.featurizer),
    [`detector_cpu_s_per_million_samples_${n}`]: perM(r.cpu.detector),
    [`broker_cpu_s_per_million_samples_${n}`]: perM(r.cpu.broker),
    [`producer_cpu_s_per_million_samples_${n}`]: perM(r.cpu.producer),
    readings_bytes_per_sample: Number((r.payloadBytes.readings / r.samples).toFixed(2)),
    readings_disk_bytes_per_sample: Number((r.diskBytes.readings / r.samples).toFixed(2)),
    readings_binary_bytes_per_sample: Number(r.binaryReadingsBytesPerSample.toFixed(2)),
    features_bytes_per_vector: Math.round(r.payloadBytes.features / r.vectors),
    features_disk_bytes_per_vector: Math.round(r.diskBytes.features / r.vectors),
    vectors_per_million_samples: Math.round((r.vectors / r.samples) * 1e6),
    drift_events_per_device: Number((r.driftEvents / r.devices).toFixed(2)),
    drift_event_bytes: Math.round(r.payloadBytes.driftEvents / Math.max(1, r.driftEvents)),
    featurizer_state_bytes_per_device: Math.round(r.stateBytes.featurizer / r.devices),
    detector_state_bytes_per_device: Math.round(r.stateBytes.detector / r.devices),
  };
}
