import type { CalibrationNote, RetrainTiming } from '../../consumers/retrainer/consumer.ts';
import type { RetrainOutcome } from '../../consumers/retrainer/retrain.ts';
import type { ReplayStats } from '../../producers/replay/replay.ts';
import {
  isLiveEvidence,
  type LiveAccuracy,
  liveAccuracy,
  liveAccuracyByVersion,
  type TrainedUntilByVersion,
} from '../evaluation/live.ts';
import { type FeatureWindow, Featurizer, flattenRows } from '../features/index.ts';
import { loadModel } from '../model/artifact.ts';
import { argmaxClasses } from '../model/evaluate.ts';
import { parseTrainedUntil, TRAINED_UNTIL_TAG } from '../model/trained-until.ts';
import type { RunEvents } from '../report/collect.ts';
import { decodeEvent } from '../schemas/cloudevents.ts';
import { EVENT_TYPES } from '../schemas/registry.ts';
import type { Prediction, SensorReadings } from '../schemas/types.gen.ts';
import type { TopicNames } from '../topics.ts';
import type { TrackingBackend } from '../tracking/types.ts';
import { readTopic } from '../transport/read.ts';
import type { Transport } from '../transport/types.ts';

export type AccuracyCell = LiveAccuracy;

export interface VersionSummary {
  version: number;
  promoted: boolean;
  candidate: string;
  reason: string;
  trigger: 'bootstrap' | 'drift' | 'growth' | 'unknown';
  /** The gate's estimate: accuracy on the validation windows it compared. */
  gateEstimate: number | null;
  gateWindows: number | null;
  pValue: number | null;
  /** Live accuracy over the version's first labelled windows it never trained on. */
  live: LiveAccuracy;
  /** Wall seconds from the retraining's trigger to its stored outcome (null for the first model). */
  wallSeconds: number | null;
}

export interface MainJobSummary {
  devices: number;
  samples: number;
  seconds: number;
  driftEvents: number;
  conceptDriftEvents: number;
  firstDetectionSeconds: Record<string, number | null>;
  versions: VersionSummary[];
  retrainings: RetrainOutcome[];
  /** Device calibrations the retrainer published. */
  calibrations: readonly CalibrationNote[];
  /**
   * Labelled windows the predictions were made on: before each phone's drift (first model); after it,
   * once the loop adapted (the window was calibrated, or a retrained version served it; never a window
   * the serving version trained on); and the first model's accuracy on those same windows computed
   * from the readings as sent (scored afterwards: the phones wait while the loop adapts, so the first
   * model itself serves few drifted windows).
   */
  accuracy: { beforeDrift: AccuracyCell; afterDriftOldModel: AccuracyCell; afterDriftAdapted: AccuracyCell };
  /** Every prediction of the test phones, with each version's training horizon (benchmarks). */
  predictions: Prediction[];
  trainedUntil: TrainedUntilByVersion;
  driftAtMs: ReadonlyMap<string, number>;
  reportPath: string;
  deadLetters: number;
}

export interface SummarizeInput {
  model: string;
  topics: TopicNames;
  firstVersion: number;
  driftAtMs: ReadonlyMap<string, number>;
  startTime: number;
  /** The run's drift events and predictions (read once, shared with the report). */
  events: RunEvents;
  /** Where the test phones' readings begin, per partition (the old model's shadow figure re-featurizes them). */
  readingsFrom: number[];
  liveWindows: number;
  calibrations: readonly CalibrationNote[];
  retrainings: { outcome: RetrainOutcome; timing: RetrainTiming }[];
  stats: ReplayStats;
  seconds: () => number;
  reportPath: string;
}

interface StoredDecision {
  gate?: { reason?: string; candidate?: number; windows?: number; pValue?: number | null };
}

/**
 * Reads back what the run wrote (drift events, predictions, versions), scores
 * each version live, records that next to the gate's estimate (a
 * `live_accuracy` metric on the version's run; the predictor has published it
 * as an `evaluated` model event) and sums up.
 */
export async function summarize(
  transport: Transport,
  backend: TrackingBackend,
  input: SummarizeInput,
): Promise<MainJobSummary> {
  const { drifts, predictions } = input.events;
  const firstDetection: Record<string, number | null> = {};
  for (const device of input.driftAtMs.keys()) firstDetection[device] = null;
  for (const d of drifts) {
    const at = input.driftAtMs.get(d.device);
    if (d.kind !== 'data' || d.time === undefined || at === undefined) continue;
    const s = (d.time - at) / 1000;
    if (s >= 0 && (firstDetection[d.device] === null || s < firstDetection[d.device]!)) firstDetection[d.device] = s;
  }

  const registered = await backend.registry.listVersions(input.model);
  const trainedUntil = new Map(registered.map((v) => [v.version, parseTrainedUntil(v.tags[TRAINED_UNTIL_TAG])]));

  const cells = { before: [0, 0], newAfter: [0, 0] };
  const retrainedServed: Prediction[] = [];
  for (const p of predictions) {
    const at = input.driftAtMs.get(p.device);
    if (at === undefined || !isLiveEvidence(p, trainedUntil)) continue;
    // A window that straddles the drift's start is neither before nor after it.
    const cell = p.window.end < at ? cells.before : p.window.start < at ? null : cells.newAfter;
    // After the drift, a window counts once the loop has adapted to it: a calibrated window, or a new version.
    if (!cell || (cell === cells.newAfter && p.version === input.firstVersion && !p.calibration)) continue;
    if (cell === cells.newAfter) retrainedServed.push(p);
    cell[0] += p.activity === p.label ? 1 : 0;
    cell[1]++;
  }
  const oldAfter = await shadowAccuracy(transport, backend, input, retrainedServed);

  const live = liveAccuracyByVersion(predictions, trainedUntil, input.liveWindows);
  const byKey = new Map(input.retrainings.map((r) => [r.outcome.version?.version, r]));
  const versions: VersionSummary[] = [];
  for (const v of registered) {
    const decision = JSON.parse(v.tags['activity-tracking.decision'] ?? '{}') as StoredDecision & { promote?: boolean };
    const run = await backend.tracker.getRun(v.runId);
    const key = v.tags['activity-tracking.trigger-key'] ?? '';
    const r = byKey.get(v.version);
    const l = live.get(v.version) ?? liveAccuracy(0, 0);
    versions.push({
      version: v.version,
      promoted: decision.promote ?? false,
      candidate: run.params.champion_candidate ?? '',
      reason: decision.gate?.reason ?? '',
      trigger: key.startsWith('bootstrap:')
        ? 'bootstrap'
        : key.startsWith('drift:')
          ? 'drift'
          : key.startsWith('grow:')
            ? 'growth'
            : 'unknown',
      gateEstimate: decision.gate?.candidate ?? null,
      gateWindows: decision.gate?.windows ?? null,
      pValue: decision.gate?.pValue ?? null,
      live: l,
      wallSeconds: r ? (r.timing.finishedAt - r.timing.requestedAt) / 1000 : null,
    });
    if (l.accuracy !== null) {
      await backend.tracker.logMetrics(v.runId, [
        { key: 'live_accuracy', value: l.accuracy },
        { key: 'live_windows', value: l.windows },
      ]);
    }
  }
  return {
    devices: input.stats.devices,
    samples: input.stats.samples,
    seconds: input.seconds(),
    driftEvents: drifts.filter((d) => d.kind === 'data').length,
    conceptDriftEvents: drifts.filter((d) => d.kind === 'concept').length,
    firstDetectionSeconds: firstDetection,
    versions,
    retrainings: input.retrainings.map((r) => r.outcome),
    calibrations: input.calibrations,
    accuracy: {
      beforeDrift: liveAccuracy(cells.before[0], cells.before[1]),
      afterDriftOldModel: oldAfter,
      afterDriftAdapted: liveAccuracy(cells.newAfter[0], cells.newAfter[1]),
    },
    predictions,
    trainedUntil,
    driftAtMs: input.driftAtMs,
    reportPath: input.reportPath,
    deadLetters: (await transport.endOffsets(input.topics.deadLetter)).reduce((a, b) => a + b, 0),
  };
}

/**
 * The first model's accuracy on the windows served after adaptation: the drop the loop undid. The
 * windows are computed again from the readings with no calibration (what the phones sent), on the
 * featurizer's own grid, so calibrated and uncalibrated windows are scored alike.
 */
async function shadowAccuracy(
  transport: Transport,
  backend: TrackingBackend,
  input: SummarizeInput,
  served: readonly Prediction[],
): Promise<LiveAccuracy> {
  if (served.length === 0) return liveAccuracy(0, 0);
  const wanted = new Map(served.map((p) => [`${p.device}:${p.window.firstSample}`, p.label!]));
  const rows: number[][] = [];
  const labels: string[] = [];
  for await (const { device, window } of uncalibratedWindows(
    transport,
    input.topics.sensorReadings,
    input.readingsFrom,
  )) {
    const label = wanted.get(`${device}:${window.firstSample}`);
    if (label === undefined) continue;
    rows.push(Array.from(window.features));
    labels.push(label);
  }
  const version = await backend.registry.getVersion(input.model, input.firstVersion);
  const { classifier } = loadModel(await backend.registry.readVersionArtifact(version), version.artifactDigest);
  const predicted = argmaxClasses(classifier.classes, classifier.predictProba(rows));
  return liveAccuracy(
    predicted.reduce((n, p, i) => n + (p === labels[i] ? 1 : 0), 0),
    rows.length,
  );
}

/** Each device's windows from its readings as sent (calibration records passed over), with stream sample indices. */
async function* uncalibratedWindows(
  transport: Transport,
  topic: string,
  from: readonly number[],
): AsyncGenerator<{ device: string; window: FeatureWindow }> {
  const devices = new Map<string, { featurizer: Featurizer; base: number }>();
  for await (const r of readTopic(transport, topic, from)) {
    let data: SensorReadings;
    try {
      data = decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.sensorReadings] }).data;
    } catch {
      continue;
    }
    let d = devices.get(data.device);
    if (!d) devices.set(data.device, (d = { featurizer: new Featurizer(), base: data.sequence }));
    for (const w of d.featurizer.push(flattenRows(data.samples), data.labels ?? null))
      yield {
        device: data.device,
        window: { ...w, firstSample: d.base + w.firstSample, lastSample: d.base + w.lastSample },
      };
  }
}

export function printMainJobSummary(s: MainJobSummary, print: (line: string) => void): void {
  const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)} %`);
  const cell = (c: AccuracyCell) => (c.accuracy === null ? 'n/a' : `${pct(c.accuracy)} of ${c.windows}`);
  print('');
  print('summary');
  print(
    `  phones ${s.devices}, samples ${s.samples.toLocaleString('en')}, ${s.seconds.toFixed(0)} s in all, dead letters ${s.deadLetters}`,
  );
  print(
    `  drift events ${s.driftEvents} (concept drift ${s.conceptDriftEvents}); first detection after the drift began (stream time):`,
  );
  for (const [device, t] of Object.entries(s.firstDetectionSeconds))
    print(`    ${device}: ${t === null ? 'not detected' : `${t.toFixed(1)} s`}`);
  print(`  device calibrations ${s.calibrations.length}:`);
  for (const c of s.calibrations)
    print(
      `    ${c.device}: ${c.model}${c.model.includes('rotation') ? ` ${c.degrees.toFixed(0)}°` : ''}${c.model.includes('offset') ? ` ${c.offsetNorm.toFixed(2)} g` : ''} from ${c.activities.length} activities (${c.activities.join(', ')})`,
    );
  print('  model versions (gate: estimate on validation windows unseen by both models; live: first windows served):');
  for (const v of s.versions) {
    const gate =
      v.gateEstimate === null
        ? ''
        : ` gate ${pct(v.gateEstimate)}${v.pValue === null ? '' : ` p=${v.pValue < 1e-4 ? v.pValue.toExponential(0) : v.pValue.toFixed(3)}`}`;
    const live = v.live.accuracy === null ? ' live n/a' : ` live ${pct(v.live.accuracy)} of ${v.live.windows}`;
    const wall = v.wallSeconds === null ? '' : ` ${v.wallSeconds.toFixed(1)} s`;
    print(
      `    v${v.version} ${v.trigger.padEnd(9)} ${v.candidate.padEnd(10)} ${v.promoted ? 'promoted    ' : 'not promoted'}${gate}${live}${wall}`,
    );
  }
  print('  accuracy of the predictions (labelled windows the serving version never trained on):');
  print(`    before the drift:                 ${cell(s.accuracy.beforeDrift)}`);
  print(`    after the drift, adapted:         ${cell(s.accuracy.afterDriftAdapted)}`);
  print(`    the same windows, old model:      ${cell(s.accuracy.afterDriftOldModel)}`);
  print(`  report: ${s.reportPath}`);
}
