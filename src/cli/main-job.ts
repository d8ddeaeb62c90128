import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  deployerConsumer,
  driftDetectorConsumer,
  featurizerConsumer,
  predictorConsumer,
} from '../../consumers/index.ts';
import { ModelSwitcher } from '../../consumers/predictor/switcher.ts';
import { candidateTrainer, QUICK_CANDIDATES, validationScorer } from '../../consumers/retrainer/candidates.ts';
import { RetrainerConsumer } from '../../consumers/retrainer/consumer.ts';
import { resolveRetrainerOptions } from '../../consumers/retrainer/options.ts';
import { bootstrap, type RetrainOutcome } from '../../consumers/retrainer/retrain.ts';
import { parseInjection } from '../../producers/replay/inject.ts';
import { replay } from '../../producers/replay/replay.ts';
import { loadRecordings, type Recording } from '../data/hapt.ts';
import { LocalTarget } from '../deploy/local.ts';
import { ServiceUnavailableError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { PipelineMetrics } from '../metrics/metrics.ts';
import { StreamConsumer } from '../pipeline/stream-consumer.ts';
import { collectReport } from '../report/collect.ts';
import { renderReport } from '../report/html.ts';
import { decodeEvent } from '../schemas/cloudevents.ts';
import { EVENT_TYPES } from '../schemas/registry.ts';
import type { DriftEvent, Prediction } from '../schemas/types.gen.ts';
import { ModelHandle } from '../serving/model-handle.ts';
import { registryModelSource } from '../serving/model-source.ts';
import { TOPICS, type TopicNames, topicSpecs } from '../topics.ts';
import { CHAMPION, type TrackingBackend } from '../tracking/types.ts';
import { readTopic } from '../transport/read.ts';
import type { Transport } from '../transport/types.ts';
import { drained } from './drain.ts';
import { type LiveState, LiveView } from './live.ts';

export interface MainJobOptions {
  data: 'sample' | 'shared';
  drift: string;
  /** Passes of the test phones over their recordings; the drift starts with the second. */
  passes: number;
  /** Replay speed of the test phones (multiple of real time). */
  speed: number;
  partitions: number;
  /** Where the HTML report goes. */
  reportPath: string;
  /** Where the local serving processes read versions: the embedded registry's folder, or MLflow. */
  registry: { trackingDir: string } | { trackingUri: string };
  topics?: TopicNames;
  model?: string;
}

export interface AccuracyCell {
  predictions: number;
  accuracy: number | null;
}

export interface MainJobSummary {
  devices: number;
  samples: number;
  seconds: number;
  driftEvents: number;
  conceptDriftEvents: number;
  firstDetectionSeconds: Record<string, number | null>;
  versions: { version: number; promoted: boolean; candidate: string; reason: string }[];
  retrainings: RetrainOutcome[];
  accuracy: { beforeDrift: AccuracyCell; afterDriftOldModel: AccuracyCell; afterDriftRetrained: AccuracyCell };
  reportPath: string;
  deadLetters: number;
}

const cell = (hits: number, n: number): AccuracyCell => ({ predictions: n, accuracy: n > 0 ? hits / n : null });

/**
 * The whole loop in one process (docs/main-job.md): the training phones
 * stream once, the first model is trained, promoted and served; the test
 * phones stream several passes, worn differently from the second pass on; the
 * drift detector reports it, the retrainer trains and promotes a new version,
 * the predictor switches to it; a report shows what happened.
 */
export async function runMainJob(
  transport: Transport,
  backend: TrackingBackend,
  options: MainJobOptions,
  logger: Logger,
  print: (line: string) => void,
): Promise<MainJobSummary> {
  const started = performance.now();
  const topics = options.topics ?? TOPICS;
  const model = options.model ?? 'activity-classifier';
  const run = randomUUID().slice(0, 8);
  await transport.ensureTopics(topicSpecs(options.partitions, topics));
  const metrics = new PipelineMetrics();
  const wiring = (name: string) => ({ transport, logger, metrics, topics, groupId: `${name}-${run}` });
  const featurizer = featurizerConsumer(wiring('featurizer'));
  const detector = driftDetectorConsumer(wiring('drift-detector'));
  await featurizer.consumer.start();
  await detector.consumer.start();
  const view = new LiveView({ print });
  const state: LiveState = {
    phase: 'training phones',
    samples: 0,
    samplesPerSecond: 0,
    driftEvents: 0,
    topFeatures: [],
    servingVersion: null,
    versions: [],
    accuracy: [],
  };
  const producer = await transport.producer();
  const firstOfEach = (rs: Recording[]) => {
    const seen = new Set<number>();
    return rs.filter((r) => !seen.has(r.user) && seen.add(r.user));
  };

  // 1. The training phones, once, labelled: the first model's data.
  const trainRecordings = loadRecordings('train', options.data);
  print(`training: ${trainRecordings.length} recordings of ${new Set(trainRecordings.map((r) => r.user)).size} phones`);
  await replay(producer, {
    recordings: trainRecordings,
    loops: 1,
    speed: 'max',
    startTime: Date.UTC(2025, 11, 1),
    topic: topics.sensorReadings,
    onProgress: (sent) => {
      state.samples = sent;
      state.samplesPerSecond = sent / Math.max(1e-3, (performance.now() - started) / 1000);
      view.update(state);
    },
  });
  await drained(transport, [
    [`featurizer-${run}`, topics.sensorReadings],
    [`drift-detector-${run}`, topics.features],
  ]);
  const retrainerOptions = resolveRetrainerOptions({ quietMs: 2000, maxWaitMs: 8000, pollMs: 100, model });
  const deps = {
    transport,
    backend,
    topics,
    trainer: candidateTrainer(QUICK_CANDIDATES),
    scorer: validationScorer,
    options: retrainerOptions,
    logger,
  };
  state.phase = 'training the first model';
  view.update(state, true);
  const first = await bootstrap(deps);
  if (!first.version) throw new Error(`the first model could not be trained: ${first.status}`);
  await producer.publish(first.events);
  state.versions.push({ version: first.version.version, promoted: first.promoted });

  // 2. Deployment and serving: the deployer starts a serving process for each promoted version (local
  //    target); the predictor scores in-process with the version the deployer reports as succeeded.
  const target = new LocalTarget({ ...options.registry, logger });
  const deployer = deployerConsumer(wiring('deployer'), { target });
  await deployer.consumer.start();
  const handle = new ModelHandle(registryModelSource(backend.registry));
  const switcher = new StreamConsumer({
    component: 'model-switcher',
    transport,
    groupId: `model-switcher-${run}`,
    topics: [topics.deploymentEvents],
    processor: new ModelSwitcher(handle, logger),
    logger,
  });
  await switcher.start();
  const active = await handle.whenReady(60_000);
  if (active?.ref.version !== first.version.version)
    throw new ServiceUnavailableError(
      `v${first.version.version} did not deploy within a minute (see the deployment events)`,
    );
  state.servingVersion = active.ref.version;
  const featuresAtJoin = await transport.endOffsets(topics.features);
  const predictor = predictorConsumer({ ...wiring('predictor'), fromBeginning: false }, { handle, logger });
  await predictor.consumer.start();
  const retrainings: RetrainOutcome[] = [];
  const retrainer = new RetrainerConsumer({
    ...retrainerOptions,
    transport,
    backend,
    topics,
    trainer: deps.trainer,
    scorer: validationScorer,
    groupId: `retrainer-${run}`,
    fromBeginning: false,
    logger,
    onRetrained: (o) => {
      retrainings.push(o);
      if (o.version) state.versions.push({ version: o.version.version, promoted: o.promoted });
      view.update(state, true);
    },
  });
  await retrainer.start();
  // Let the new groups join before the test phones start (they read only what comes after).
  await new Promise((r) => setTimeout(r, 500));
  const driftStart = await transport.endOffsets(topics.driftEvents);

  // 3. The test phones: several passes, worn differently from the second on.
  const testRecordings = firstOfEach(loadRecordings('test', options.data));
  // Each phone's drift begins with its own second pass.
  const driftAtOf = new Map(
    testRecordings.map((r) => [`user-${String(r.user).padStart(2, '0')}`, r.labels.length / 50]),
  );
  const loopSeconds = Math.min(...driftAtOf.values());
  const startTime = Date.UTC(2026, 0, 1);
  state.phase = `test phones: ${testRecordings.length} phones, ${options.passes} passes at ${options.speed}x; "${options.drift}" from pass 2`;
  view.update(state, true);
  const ticker = setInterval(() => {
    state.servingVersion = handle.current()?.ref.version ?? null;
    state.driftEvents = Number(driftCount(metrics));
    state.accuracy = [...predictor.processor.byVersion].map(([version, v]) => ({
      version,
      accuracy: v.recent.reduce((a, b) => a + b, 0) / Math.max(1, v.recent.length),
      n: v.labelled,
    }));
    view.update(state);
  }, 250);
  const replayStarted = performance.now();
  const stats = await replay(producer, {
    recordings: testRecordings,
    loops: options.passes,
    speed: options.speed,
    startTime,
    drift: { fromLoop: 1, injection: parseInjection(options.drift) },
    topic: topics.sensorReadings,
    onProgress: (sent, total) => {
      state.samples = sent;
      state.samplesPerSecond = sent / Math.max(1e-3, (performance.now() - replayStarted) / 1000);
      if (sent === total) state.phase = 'draining';
    },
  });
  await producer.close();
  await drained(transport, [
    [`featurizer-${run}`, topics.sensorReadings],
    [`drift-detector-${run}`, topics.features],
    [`predictor-${run}`, topics.features, featuresAtJoin],
    [`retrainer-${run}`, topics.driftEvents, driftStart],
    [`deployer-${run}`, topics.modelEvents],
    [`model-switcher-${run}`, topics.deploymentEvents],
  ]);
  clearInterval(ticker);
  for (const c of [featurizer.consumer, detector.consumer, predictor.consumer]) await c.stop();
  await retrainer.stop();
  await deployer.consumer.stop();
  await switcher.stop();
  await target.close();
  view.done();

  // 4. What happened, from what the system wrote.
  const driftAt = (device: string) => startTime + (driftAtOf.get(device) ?? 0) * 1000;
  const drifts: DriftEvent[] = [];
  for await (const r of readTopic(transport, topics.driftEvents, driftStart)) {
    drifts.push(decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.drift] }).data);
  }
  const firstDetection: Record<string, number | null> = {};
  for (const r of testRecordings) firstDetection[`user-${String(r.user).padStart(2, '0')}`] = null;
  for (const d of drifts) {
    if (d.kind !== 'data' || d.time === undefined || !(d.device in firstDetection)) continue;
    const s = (d.time - driftAt(d.device)) / 1000;
    if (s >= 0 && (firstDetection[d.device] === null || s < firstDetection[d.device]!)) firstDetection[d.device] = s;
  }
  const before = [0, 0];
  const oldAfter = [0, 0];
  const newAfter = [0, 0];
  for await (const r of readTopic(transport, topics.predictions)) {
    const p: Prediction = decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.prediction] }).data;
    if (!p.label) continue;
    const hit = p.activity === p.label ? 1 : 0;
    const target =
      p.window.start < driftAt(p.device) ? before : p.version === first.version.version ? oldAfter : newAfter;
    target[0] += hit;
    target[1]++;
  }
  const versions = (await backend.registry.listVersions(model)).map((v) => {
    const decision = JSON.parse(v.tags['activity-tracking.decision'] ?? '{}') as {
      promote?: boolean;
      gate?: { reason: string };
    };
    return {
      version: v.version,
      promoted: decision.promote ?? false,
      candidate: '',
      reason: decision.gate?.reason ?? '',
    };
  });
  for (const v of versions)
    v.candidate =
      (await backend.tracker.getRun((await backend.registry.getVersion(model, v.version)).runId)).params
        .champion_candidate ?? '';
  const champion = await backend.registry.byAlias(model, CHAMPION);
  const report = await collectReport(transport, backend, topics, {
    model,
    startTime,
    driftStart: loopSeconds,
    from: { driftEvents: driftStart },
    title: `Activity Tracking — ${options.drift} from pass 2`,
    facts: {
      transport: transport.kind,
      tracking: backend.kind,
      phones: stats.devices,
      samples: stats.samples,
      passes: options.passes,
      'replay speed': `${options.speed}x`,
      'model in production': champion ? `v${champion.version}` : 'none',
    },
  });
  mkdirSync(path.dirname(options.reportPath), { recursive: true });
  writeFileSync(options.reportPath, renderReport(report));
  return {
    devices: stats.devices,
    samples: stats.samples,
    seconds: (performance.now() - started) / 1000,
    driftEvents: drifts.filter((d) => d.kind === 'data').length,
    conceptDriftEvents: drifts.filter((d) => d.kind === 'concept').length,
    firstDetectionSeconds: firstDetection,
    versions,
    retrainings,
    accuracy: {
      beforeDrift: cell(before[0], before[1]),
      afterDriftOldModel: cell(oldAfter[0], oldAfter[1]),
      afterDriftRetrained: cell(newAfter[0], newAfter[1]),
    },
    reportPath: options.reportPath,
    deadLetters: (await transport.endOffsets(topics.deadLetter)).reduce((a, b) => a + b, 0),
  };
}

function driftCount(metrics: PipelineMetrics): number {
  // prom-client keeps the counter's value per label set; the live view only needs the data-drift total.
  const h = (metrics.driftEvents as unknown as { hashMap: Record<string, { value: number; labels: { kind: string } }> })
    .hashMap;
  return Object.values(h ?? {}).reduce((n, e) => n + (e.labels.kind === 'data' ? e.value : 0), 0);
}

export function printMainJobSummary(s: MainJobSummary, print: (line: string) => void): void {
  const pct = (c: AccuracyCell) =>
    c.accuracy === null ? 'n/a' : `${(c.accuracy * 100).toFixed(1)} % of ${c.predictions}`;
  print('');
  print('summary');
  print(
    `  phones ${s.devices}, samples ${s.samples.toLocaleString('en')}, ${s.seconds.toFixed(0)} s in all, dead letters ${s.deadLetters}`,
  );
  print(
    `  drift events ${s.driftEvents} (concept drift ${s.conceptDriftEvents}); first detection after the drift began:`,
  );
  for (const [device, t] of Object.entries(s.firstDetectionSeconds))
    print(`    ${device}: ${t === null ? 'not detected' : `${t.toFixed(1)} s`}`);
  print('  model versions:');
  for (const v of s.versions)
    print(`    v${v.version} ${v.candidate.padEnd(11)} ${v.promoted ? 'promoted    ' : 'not promoted'} ${v.reason}`);
  print('  accuracy of the predictions (labelled windows):');
  print(`    before the drift:                 ${pct(s.accuracy.beforeDrift)}`);
  print(`    after the drift, old model:       ${pct(s.accuracy.afterDriftOldModel)}`);
  print(`    after the drift, retrained model: ${pct(s.accuracy.afterDriftRetrained)}`);
  print(`  report: ${s.reportPath}`);
}
