/**
 * `npm run bench:checkpoint`: what one state checkpoint of a partition costs the featurizer and the drift
 * detector (issue 17: the paced latency tail). `--devices N` (default 333, a partition's share of 1,000
 * phones over 3 partitions) devices each send `--messages M` (default 12) one-second messages of the
 * sample recordings to a featurizer; its vectors go to a detector. Then, `--reps R` times (default 20),
 * every device sends one more message (so that every stream is changed) and each processor's
 * `takeCheckpoint` of the partition is timed, and the same streams a few at a time through
 * `snapshotStream` (the path a StreamConsumer takes). Prints ms per checkpoint (median, min) and µs and
 * bytes per stream, then one JSON line. Not a test: nothing here asserts a speed.
 */
import { performance } from 'node:perf_hooks';
import { DriftDetectorProcessor } from '../consumers/drift-detector/processor.ts';
import { FeaturizerProcessor } from '../consumers/featurizer/processor.ts';
import { ReadingsProducer } from '../producers/readings-producer.ts';
import { loadRecordings } from '../src/data/hapt.ts';
import type { Checkpointable, StreamSnapshot } from '../src/pipeline/checkpoint.ts';
import { TOPICS } from '../src/topics.ts';
import type { ConsumedRecord, OutgoingRecord } from '../src/transport/types.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1];
};
const devices = Number(arg('--devices', '333'));
const warmup = Number(arg('--messages', '12'));
const reps = Number(arg('--reps', '20'));

/** Each recording cut into one-second messages, with its per-sample labels (the detector keys banks by them). */
const chunks = loadRecordings('test', 'sample').map((r) => {
  const out: { rows: number[][]; labels: (string | null)[] }[] = [];
  for (let from = 0; from + 50 <= r.labels.length; from += 50) {
    const rows: number[][] = [];
    for (let i = from; i < from + 50; i++) rows.push(Array.from(r.samples.subarray(i * 6, i * 6 + 6)));
    out.push({ rows, labels: r.labels.slice(from, from + 50) });
  }
  return out;
});
const producer = new ReadingsProducer({ publish: async () => {}, close: async () => {} });
let offset = 0;
const consumed = (records: OutgoingRecord[], topic: string): ConsumedRecord[] =>
  records.map((r) => ({
    topic,
    partition: 0,
    offset: offset++,
    key: r.key ?? null,
    value: r.value,
    headers: Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k, String(v)])),
    timestamp: Date.now(),
  }));

const featurizer = new FeaturizerProcessor();
const detector = new DriftDetectorProcessor();
let second = 0;
/** One message from every device, through the featurizer and its vectors through the detector. */
function tick(): void {
  const messages: OutgoingRecord[] = [];
  for (let d = 0; d < devices; d++) {
    const recording = chunks[d % chunks.length];
    const { rows, labels } = recording[(second + d * 7) % recording.length];
    messages.push(
      producer.record(`phone-${String(d).padStart(5, '0')}`, rows, { labels, timestamp: 1_000_000 + second * 1000 }),
    );
  }
  second++;
  const records = consumed(messages, TOPICS.sensorReadings);
  const vectors = featurizer
    .process({ topic: TOPICS.sensorReadings, partition: 0, records, highWatermark: offset })
    .filter((r) => r.topic === TOPICS.features);
  const input = consumed(vectors, TOPICS.features);
  if (input.length > 0)
    detector.process({ topic: TOPICS.features, partition: 0, records: input, highWatermark: offset });
}

interface Timing {
  ms: number[];
  /** CPU ms of this process per checkpoint: steadier than wall time on a shared machine. */
  cpu: number[];
  /** µs per stream, per checkpoint. */
  us: number[];
  streams: number;
  bytes: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function time(take: (p: Checkpointable) => StreamSnapshot[]): { featurizer: Timing; detector: Timing } {
  const out = {
    featurizer: { ms: [] as number[], cpu: [] as number[], us: [] as number[], streams: 0, bytes: 0 },
    detector: { ms: [] as number[], cpu: [] as number[], us: [] as number[], streams: 0, bytes: 0 },
  };
  for (let r = 0; r < reps; r++) {
    tick();
    for (const [name, p] of [
      ['featurizer', featurizer],
      ['detector', detector],
    ] as const) {
      const started = performance.now();
      const cpu = process.cpuUsage();
      const snaps = take(p);
      const ms = performance.now() - started;
      const used = process.cpuUsage(cpu);
      if (snaps.length === 0) continue;
      out[name].ms.push(ms);
      out[name].cpu.push((used.user + used.system) / 1000);
      out[name].us.push((ms * 1000) / snaps.length);
      out[name].streams = snaps.length;
      out[name].bytes = snaps.reduce((n, s) => n + s.bytes.byteLength, 0);
    }
  }
  return out;
}

for (let m = 0; m < warmup; m++) tick();
featurizer.takeCheckpoint(0);
detector.takeCheckpoint(0);
const whole = time((p) => p.takeCheckpoint(0));
const streamwise = time((p) => {
  const snaps: StreamSnapshot[] = [];
  for (const key of p.changedStreams?.(0) ?? []) {
    const s = p.snapshotStream?.(key);
    if (s) snaps.push(s);
  }
  return snaps;
});

const summary: Record<string, number> = {};
for (const [path, t] of [
  ['takeCheckpoint', whole],
  ['snapshotStream', streamwise],
] as const) {
  for (const name of ['featurizer', 'detector'] as const) {
    const { ms, cpu, us, streams, bytes } = t[name];
    if (ms.length === 0) {
      console.log(`${name} ${path}: no streams`);
      continue;
    }
    const med = median(ms);
    console.log(
      `${name} ${path}: ${streams} streams, ${(bytes / 1e6).toFixed(2)} MB (last) — ${med.toFixed(1)} ms median, ` +
        `${Math.min(...ms).toFixed(1)} ms min, ${median(cpu).toFixed(1)} CPU ms median per checkpoint; ` +
        `per stream ${median(us).toFixed(0)} µs median, ` +
        `${Math.min(...us).toFixed(0)} µs min, ${Math.round(bytes / streams)} bytes`,
    );
    if (path === 'takeCheckpoint') {
      summary[`${name}_checkpoint_ms`] = Number(med.toFixed(2));
      summary[`${name}_checkpoint_cpu_ms`] = Number(median(cpu).toFixed(2));
      summary[`${name}_stream_cpu_us`] = Math.round((median(cpu) * 1000) / streams);
      summary[`${name}_stream_us`] = Math.round(median(us));
      summary[`${name}_stream_us_min`] = Math.round(Math.min(...us));
      summary[`${name}_stream_bytes`] = Math.round(bytes / Math.max(1, streams));
      summary[`${name}_streams`] = streams;
    }
  }
}
console.log(JSON.stringify(summary));
