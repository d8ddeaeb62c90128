import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  deployerConsumer,
  driftDetectorConsumer,
  featurizerConsumer,
  predictorConsumer,
} from '../../consumers/index.ts';
import { ModelSwitcher } from '../../consumers/predictor/switcher.ts';
import { candidateTrainer, QUICK_CANDIDATES } from '../../consumers/retrainer/candidates.ts';
import { RetrainerConsumer, type RetrainTiming } from '../../consumers/retrainer/consumer.ts';
import { type RetrainerOptions, resolveRetrainerOptions } from '../../consumers/retrainer/options.ts';
import { bootstrap, type RetrainOutcome } from '../../consumers/retrainer/retrain.ts';
import { parseInjection } from '../../producers/replay/inject.ts';
import { replay } from '../../producers/replay/replay.ts';
import { startDashboard } from '../dashboard/server.ts';
import { loadRecordings } from '../data/hapt.ts';
import { LocalTarget } from '../deploy/local.ts';
import { ServiceUnavailableError, TimeoutError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { PipelineMetrics } from '../metrics/metrics.ts';
import { StreamConsumer } from '../pipeline/stream-consumer.ts';
import { collectReport, readRunEvents } from '../report/collect.ts';
import { renderReport } from '../report/html.ts';
import { ModelHandle } from '../serving/model-handle.ts';
import { registryModelSource } from '../serving/model-source.ts';
import { TOPICS, type TopicNames, topicSpecs } from '../topics.ts';
import { CHAMPION, type TrackingBackend } from '../tracking/types.ts';
import type { Transport } from '../transport/types.ts';
import { drained, lagging } from './drain.ts';
import { type LiveState, LiveView } from './live.ts';
import { type MainJobSummary, summarize } from './main-job-results.ts';

export type { AccuracyCell, MainJobSummary } from './main-job-results.ts';
export { printMainJobSummary } from './main-job-results.ts';

export interface MainJobOptions {
  data: 'sample' | 'shared';
  drift: string;
  /** Where each test phone's drift begins, as a share of its samples. @defaultValue 0.5 */
  driftAt?: number;
  /** Replay speed of the test phones (multiple of real time). */
  speed: number;
  partitions: number;
  /** Where the HTML report goes. */
  reportPath: string;
  /** Where the local serving processes read versions: the embedded registry's folder, or MLflow. */
  registry: { trackingDir: string } | { trackingUri: string };
  topics?: TopicNames;
  model?: string;
  /** Retrainer settings of this run (defaults: the main job's short bursts). */
  retrainer?: RetrainerOptions;
  /** Labelled windows over which each version's live accuracy is taken. @defaultValue 200 */
  liveWindows?: number;
  /** Stops the run (Ctrl-C): it ends at the next second of stream and tears everything down. */
  signal?: AbortSignal;
  /**
   * The live dashboard on loopback while the run goes on (its URL is printed), stopped with the rest;
   * `port` 0 takes any free port. @defaultValue none
   */
  dashboard?: { port: number; mlflowUri?: string };
}

/** How long the phones wait for a promoted version to serve before they go on without it. */
const DEPLOY_WAIT_MS = 60_000;
/** Stream seconds between checks that the consumers keep up with the phones. */
const LAG_CHECK_EVERY = 5;

/**
 * The whole loop in one process: the training phones stream once, the first
 * model is trained, promoted and served; then each test phone streams its
 * recordings once, worn differently from `driftAt` of its samples on. The
 * drift detector reports it, the retrainer retrains (after the burst, and
 * again as post-drift data grows) and the gate promotes what beats
 * production; the predictor switches to each deployed version.
 *
 * The phones wait while the loop works: before each second of stream, the
 * consumers must have kept up, no retraining may be running or due, and the
 * newest promoted version must serve. The story (drop, then recovery) is
 * then the same on a fast machine and a slow one; wall-clock figures belong
 * to `bench:recovery`. No window is streamed twice, so a version is only ever
 * judged on windows it never trained on (docs/retraining.md).
 */
export async function runMainJob(
  transport: Transport,
  backend: TrackingBackend,
  options: MainJobOptions,
  logger: Logger,
  print: (line: string) => void,
): Promise<MainJobSummary> {
  const injection = parseInjection(options.drift);
  const driftAt = options.driftAt ?? 0.5;
  if (!(driftAt > 0 && driftAt < 1)) throw new RangeError(`driftAt must be in (0, 1), got ${driftAt}`);
  const started = performance.now();
  const topics = options.topics ?? TOPICS;
  const model = options.model ?? 'activity-classifier';
  const run = randomUUID().slice(0, 8);
  const teardown: (() => Promise<void>)[] = [];
  const aborted = () => {
    if (options.signal?.aborted) throw new ServiceUnavailableError('the run was stopped');
  };
  try {
    await transport.ensureTopics(topicSpecs(options.partitions, topics));
    if (options.dashboard) {
      const dashboard = await startDashboard({
        transport,
        topics,
        port: options.dashboard.port,
        groupId: `dashboard-${run}`,
        ...(options.dashboard.mlflowUri ? { state: { mlflowUri: options.dashboard.mlflowUri } } : {}),
        logger,
      });
      teardown.push(() => dashboard.close());
      print(`dashboard: ${dashboard.url}/`);
    }
    const metrics = new PipelineMetrics();
    const wiring = (name: string) => ({ transport, logger, metrics, topics, groupId: `${name}-${run}` });
    const featurizer = featurizerConsumer(wiring('featurizer'));
    const detector = driftDetectorConsumer(wiring('drift-detector'));
    await featurizer.consumer.start();
    teardown.push(() => featurizer.consumer.stop());
    await detector.consumer.start();
    teardown.push(() => detector.consumer.stop());
    const view = new LiveView({ print });
    teardown.push(async () => view.done());
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
    teardown.push(() => producer.close());

    // 1. The training phones, once, labelled: the first model's data.
    const trainRecordings = loadRecordings('train', options.data);
    print(
      `training: ${trainRecordings.length} recordings of ${new Set(trainRecordings.map((r) => r.user)).size} phones`,
    );
    await replay(producer, {
      recordings: trainRecordings,
      speed: 'max',
      startTime: Date.UTC(2025, 11, 1),
      topic: topics.sensorReadings,
      onProgress: (sent) => {
        aborted();
        state.samples = sent;
        state.samplesPerSecond = sent / Math.max(1e-3, (performance.now() - started) / 1000);
        view.update(state);
      },
    });
    await drained(transport, [
      [`featurizer-${run}`, topics.sensorReadings],
      [`drift-detector-${run}`, topics.features],
    ]);
    const retrainerOptions = resolveRetrainerOptions({
      quietMs: 2000,
      maxWaitMs: 8000,
      pollMs: 100,
      minPostDrift: 40,
      ...options.retrainer,
      model,
    });
    const deps = {
      transport,
      backend,
      topics,
      trainer: candidateTrainer(QUICK_CANDIDATES),
      options: retrainerOptions,
      logger,
    };
    state.phase = 'training the first model';
    view.update(state, true);
    const first = await bootstrap(deps);
    if (!first.version) throw new ServiceUnavailableError(`the first model could not be trained: ${first.status}`);
    await producer.publish(first.events);
    state.versions.push({ version: first.version.version, promoted: first.promoted });

    // 2. Deployment and serving: the deployer starts a serving process for each promoted version (local
    //    target); the predictor scores in-process with the version the deployer reports as succeeded.
    const target = new LocalTarget({ ...options.registry, logger });
    teardown.push(() => target.close());
    const deployer = deployerConsumer(wiring('deployer'), { target });
    await deployer.consumer.start();
    teardown.push(() => deployer.consumer.stop());
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
    teardown.push(() => switcher.stop());
    const active = await handle.whenReady(60_000);
    if (active?.ref.version !== first.version.version)
      throw new ServiceUnavailableError(
        `v${first.version.version} did not deploy within a minute (see the deployment events)`,
      );
    state.servingVersion = active.ref.version;
    const featuresAtJoin = await transport.endOffsets(topics.features);
    const predictor = predictorConsumer({ ...wiring('predictor'), fromBeginning: false }, { handle, logger });
    await predictor.consumer.start();
    teardown.push(() => predictor.consumer.stop());
    const retrainings: { outcome: RetrainOutcome; timing: RetrainTiming }[] = [];
    let promoted = first.version.version;
    const retrainer = new RetrainerConsumer({
      ...retrainerOptions,
      transport,
      backend,
      topics,
      trainer: deps.trainer,
      groupId: `retrainer-${run}`,
      fromBeginning: false,
      logger,
      metrics,
      onRetrained: (outcome, timing) => {
        retrainings.push({ outcome, timing });
        if (outcome.version && outcome.status === 'trained') {
          state.versions.push({ version: outcome.version.version, promoted: outcome.promoted });
          if (outcome.promoted) promoted = Math.max(promoted, outcome.version.version);
        }
        view.update(state, true);
      },
    });
    await retrainer.start();
    teardown.push(() => retrainer.stop());
    const driftStart = await transport.endOffsets(topics.driftEvents);
    const readingsStart = await transport.endOffsets(topics.sensorReadings);
    const predictionsStart = await transport.endOffsets(topics.predictions);

    // 3. The test phones: each streams its recordings once, worn differently from `driftAt` on.
    const testRecordings = loadRecordings('test', options.data);
    const startTime = Date.UTC(2026, 0, 1);
    const samplesOf = new Map<string, number>();
    for (const r of testRecordings) {
      const device = `user-${String(r.user).padStart(2, '0')}`;
      samplesOf.set(device, (samplesOf.get(device) ?? 0) + r.labels.length);
    }
    const driftAtMs = new Map([...samplesOf].map(([d, n]) => [d, startTime + Math.round(n * driftAt) * 20]));
    state.phase = `test phones: ${samplesOf.size} phones at ${options.speed}x; "${options.drift}" from ${Math.round(driftAt * 100)} % of each phone's stream`;
    view.update(state, true);
    const ticker = setInterval(() => {
      state.servingVersion = handle.current()?.ref.version ?? null;
      state.driftEvents = detector.processor.stats.reported;
      state.accuracy = [...predictor.processor.byVersion].map(([version, v]) => ({
        version,
        accuracy: v.recent.reduce((a, b) => a + b, 0) / Math.max(1, v.recent.length),
        n: v.labelled,
      }));
      view.update(state);
    }, 250);
    teardown.push(async () => clearInterval(ticker));
    const live = [
      [`featurizer-${run}`, topics.sensorReadings],
      [`drift-detector-${run}`, topics.features],
      [`predictor-${run}`, topics.features, featuresAtJoin],
    ] satisfies Parameters<typeof drained>[1];
    let step = 0;
    /** The phones wait while the loop catches up (see above). */
    const hold = async () => {
      aborted();
      const checkLag = step++ % LAG_CHECK_EVERY === 0;
      let deployWaitFrom: number | null = null;
      for (let i = 0; ; i++) {
        aborted();
        const serving = handle.current()?.ref.version ?? 0;
        const deploying = serving < promoted;
        if (deploying) deployWaitFrom ??= performance.now();
        const deployStuck = deploying && performance.now() - deployWaitFrom! > DEPLOY_WAIT_MS;
        if (deployStuck && i % 200 === 0)
          logger.warn({ promoted, serving }, 'promoted version not serving; phones go on');
        const behind = checkLag && i % 4 === 0 ? await lagging(transport, live) : false;
        if (!retrainer.busy && (!deploying || deployStuck) && !behind) return;
        if (i > 60_000) throw new TimeoutError('the loop did not catch up with the phones within 10 minutes');
        await sleep(10);
      }
    };
    const replayStarted = performance.now();
    const stats = await replay(producer, {
      recordings: testRecordings,
      speed: options.speed,
      startTime,
      drift: { atFraction: driftAt, injection },
      hold,
      topic: topics.sensorReadings,
      onProgress: (sent, total) => {
        state.samples = sent;
        state.samplesPerSecond = sent / Math.max(1e-3, (performance.now() - replayStarted) / 1000);
        if (sent === total) state.phase = 'draining';
      },
    });
    await drained(transport, [
      ...live,
      [`retrainer-${run}`, topics.driftEvents, driftStart],
      [`deployer-${run}`, topics.modelEvents],
      [`model-switcher-${run}`, topics.deploymentEvents],
    ]);
    await hold();
    // Everything is stopped before the results are read (the finally block runs what is left, none of this twice).
    for (const stop of teardown.splice(0).reverse()) await stop();

    // 4. What happened, from what the system wrote.
    const from = { driftEvents: driftStart, predictions: predictionsStart };
    const events = await readRunEvents(transport, topics, from);
    const summary = await summarize(transport, backend, {
      model,
      topics,
      firstVersion: first.version.version,
      driftAtMs,
      startTime,
      events,
      readingsFrom: readingsStart,
      calibrations: retrainer.calibrations,
      liveWindows: options.liveWindows ?? 200,
      retrainings,
      stats,
      seconds: () => (performance.now() - started) / 1000,
      reportPath: options.reportPath,
    });
    const champion = await backend.registry.byAlias(model, CHAMPION);
    const report = await collectReport(transport, backend, topics, {
      model,
      startTime,
      driftStart: Math.min(...driftAtMs.values()) / 1000 - startTime / 1000,
      from,
      events,
      title: `Activity Tracking — ${options.drift} from ${Math.round(driftAt * 100)} % of each phone's stream`,
      facts: {
        transport: transport.kind,
        tracking: backend.kind,
        phones: stats.devices,
        samples: stats.samples,
        'replay speed': `${options.speed}x (phones wait while the loop retrains)`,
        'model in production': champion ? `v${champion.version}` : 'none',
      },
    });
    mkdirSync(path.dirname(options.reportPath), { recursive: true });
    writeFileSync(options.reportPath, renderReport(report));
    return summary;
  } finally {
    for (const stop of teardown.reverse()) {
      try {
        await stop();
      } catch (err) {
        logger.warn({ err }, 'main job: a component did not stop cleanly');
      }
    }
  }
}
