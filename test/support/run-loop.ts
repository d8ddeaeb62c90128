import type { VectorEncoding } from '../../consumers/featurizer/processor.ts';
import { driftDetectorConsumer, featurizerConsumer } from '../../consumers/index.ts';
import type { ReadingsEncoding } from '../../producers/readings-producer.ts';
import { parseInjection } from '../../producers/replay/inject.ts';
import { replay } from '../../producers/replay/replay.ts';
import { drained } from '../../src/cli/drain.ts';
import { loadRecordings } from '../../src/data/hapt.ts';
import type { Logger } from '../../src/log/logger.ts';
import { PipelineMetrics } from '../../src/metrics/metrics.ts';
import { decodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { DriftEvent } from '../../src/schemas/types.gen.ts';
import { TOPICS, type TopicNames, topicSpecs } from '../../src/topics.ts';
import type { Transport } from '../../src/transport/types.ts';

export interface RunOptions {
  /** Called after each publish with the samples sent so far and the total (fault tests strike on it). */
  onProgress?: (sent: number, total: number) => void;
  /** Awaited by the replay before each round of chunks (fault tests hold the stream while they strike). */
  hold?: () => Promise<void>;
  data: 'sample' | 'shared';
  drift: string;
  loops: number;
  speed: number | 'max';
  partitions: number;
  /** @defaultValue TOPICS */
  topics?: TopicNames;
  /** The featurizer's and the detector's registries. @defaultValue one new registry for both */
  metrics?: { featurizer: PipelineMetrics; detector: PipelineMetrics };
  /** Input records per partition between state checkpoints. @defaultValue the consumers' */
  checkpointInterval?: number;
  /** The body of the featurizer's vectors. @defaultValue the featurizer's (binary) */
  vectorEncoding?: VectorEncoding;
  /** The body of the replay's readings. @defaultValue the producer's (binary, float64) */
  readingsEncoding?: ReadingsEncoding;
}

export interface RunSummary {
  devices: number;
  samples: number;
  samplesPerSecond: number;
  vectors: number;
  driftEvents: DriftEvent[];
  falseAlarms: number;
  firstDetectionSeconds: Record<string, number | null>;
  deadLetters: number;
}

/**
 * The detection half of the loop, for tests: replays the test
 * users as concurrent phones (twice, the second time with an injected drift),
 * featurizes, detects drift per (device, activity), and summarizes.
 */
export async function runLoop(
  transport: Transport,
  options: RunOptions,
  logger: Logger,
  print: (line: string) => void,
): Promise<RunSummary> {
  const topics = options.topics ?? TOPICS;
  await transport.ensureTopics(topicSpecs(options.partitions, topics));
  const shared = new PipelineMetrics();
  const metrics = options.metrics ?? { featurizer: shared, detector: shared };
  const suffix = `${Date.now()}`;
  const common = {
    transport,
    logger,
    topics,
    ...(options.checkpointInterval ? { checkpointInterval: options.checkpointInterval } : {}),
  };
  const featurizer = featurizerConsumer(
    { ...common, metrics: metrics.featurizer, groupId: `featurizer-${suffix}` },
    options.vectorEncoding ? { vectorEncoding: options.vectorEncoding } : {},
  );
  const detector = driftDetectorConsumer({
    ...common,
    metrics: metrics.detector,
    groupId: `drift-detector-${suffix}`,
  });
  const startOffsets = await transport.endOffsets(topics.driftEvents);
  await featurizer.consumer.start();
  await detector.consumer.start();

  // One session per phone: a user's second HAPT session was recorded with the phone worn as the user
  // preferred, a real drift of its own that would blur the injected one (docs/drift.md).
  const seen = new Set<number>();
  const recordings = loadRecordings('test', options.data).filter((r) => !seen.has(r.user) && seen.add(r.user));
  const injection = parseInjection(options.drift);
  const loopSeconds = new Map<string, number>();
  for (const r of recordings) {
    const device = `user-${String(r.user).padStart(2, '0')}`;
    loopSeconds.set(device, (loopSeconds.get(device) ?? 0) + r.labels.length / 50);
  }
  print(
    `streaming ${loopSeconds.size} phones (test users of the ${options.data === 'sample' ? 'bundled sample' : 'full HAPT data'}), ` +
      `${options.loops} passes; drift "${options.drift}" from pass 2 on`,
  );
  const producer = await transport.producer();
  const startTime = Date.UTC(2026, 0, 1);
  const stats = await replay(producer, {
    recordings,
    loops: options.loops,
    speed: options.speed,
    startTime,
    drift: { fromLoop: Math.min(1, options.loops - 1), injection },
    topic: topics.sensorReadings,
    ...(options.readingsEncoding ? { encoding: options.readingsEncoding } : {}),
    ...(options.hold ? { hold: options.hold } : {}),
    onProgress: (sent, total) => {
      options.onProgress?.(sent, total);
      if (process.stdout.isTTY)
        process.stdout.write(`\r  replayed ${((100 * sent) / total).toFixed(0)} % of ${total} samples`);
    },
  });
  if (process.stdout.isTTY) process.stdout.write('\n');
  await producer.close();
  await drained(transport, [
    [`featurizer-${suffix}`, topics.sensorReadings],
    [`drift-detector-${suffix}`, topics.features],
  ]);
  const seconds = stats.seconds;
  await featurizer.consumer.stop();
  await detector.consumer.stop();

  const events: DriftEvent[] = [];
  const ends = await transport.endOffsets(topics.driftEvents);
  for (let p = 0; p < ends.length; p++) {
    if (ends[p] <= (startOffsets[p] ?? 0)) continue;
    for (const r of await transport.readRange(topics.driftEvents, p, startOffsets[p] ?? 0, ends[p] - 1)) {
      events.push(decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.drift] }).data);
    }
  }
  // A feature vector's offset -> its window's time, to place each detection on the replay's clock.
  const first: Record<string, number | null> = Object.fromEntries([...loopSeconds.keys()].map((d) => [d, null]));
  let falseAlarms = 0;
  const vectorTime = new Map<string, number>();
  const featureEnds = await transport.endOffsets(topics.features);
  for (let p = 0; p < featureEnds.length; p++) {
    if (featureEnds[p] === 0) continue;
    for (const r of await transport.readRange(topics.features, p, 0, featureEnds[p] - 1)) {
      let v: { window: { start: number } };
      try {
        v = decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.featureVector] }).data;
      } catch {
        continue; // Not a vector (a suite's junk record, dead-lettered by the detector): no detection points at it.
      }
      vectorTime.set(`${p}:${r.offset}`, (v.window.start - startTime) / 1000);
    }
  }
  for (const e of events) {
    const t = vectorTime.get(`${e.detectedAt.partition}:${e.detectedAt.offset}`) ?? 0;
    const driftStart = options.loops > 1 ? loopSeconds.get(e.device)! : 0;
    if (t < driftStart) falseAlarms++;
    else if (first[e.device] === null || t - driftStart < first[e.device]!) first[e.device] = t - driftStart;
  }
  const deadLetters = (await transport.endOffsets(topics.deadLetter)).reduce((a, b) => a + b, 0);
  return {
    devices: stats.devices,
    samples: stats.samples,
    samplesPerSecond: stats.samples / seconds,
    vectors: detector.processor.stats.vectors,
    driftEvents: events,
    falseAlarms,
    firstDetectionSeconds: first,
    deadLetters,
  };
}

export function printSummary(summary: RunSummary, print: (line: string) => void): void {
  const byFeature = new Map<string, number>();
  for (const e of summary.driftEvents)
    byFeature.set(e.feature ?? 'error-rate', (byFeature.get(e.feature ?? 'error-rate') ?? 0) + 1);
  const top = [...byFeature].sort((a, b) => b[1] - a[1]).slice(0, 8);
  print('');
  print('summary');
  print(
    `  phones ${summary.devices}, samples ${summary.samples} (${Math.round(summary.samplesPerSecond)} samples/s), feature vectors ${summary.vectors}`,
  );
  print(
    `  drift events ${summary.driftEvents.length} (before the injected drift: ${summary.falseAlarms}), dead letters ${summary.deadLetters}`,
  );
  print('  first detection after the drift began, per phone:');
  for (const [device, s] of Object.entries(summary.firstDetectionSeconds)) {
    print(`    ${device}: ${s === null ? 'not detected' : `${s.toFixed(1)} s`}`);
  }
  print(`  features that drifted most: ${top.map(([f, n]) => `${f} (${n})`).join(', ')}`);
}
