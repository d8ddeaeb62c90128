import { decodeEvent } from '../schemas/cloudevents.ts';
import { EVENT_TYPES } from '../schemas/registry.ts';
import type { DriftEvent, ModelEvent, Prediction } from '../schemas/types.gen.ts';
import type { TopicNames } from '../topics.ts';
import type { TrackingBackend } from '../tracking/types.ts';
import { readTopic } from '../transport/read.ts';
import type { Transport } from '../transport/types.ts';
import type { ReportData, ReportVersion } from './types.ts';

export interface CollectOptions {
  model: string;
  /** Epoch ms of stream time 0 (the replay's start); default: the earliest prediction or drift. */
  startTime?: number;
  driftStart?: number | null;
  /** Predictions per rolling-accuracy point. @defaultValue 100 */
  rollingWindow?: number;
  /** Offsets where this run's records begin, per topic (topics shared with earlier runs). */
  from?: Partial<Record<'driftEvents' | 'predictions', number[]>>;
  title?: string;
  facts?: Record<string, string | number>;
  /** The run's drift events and predictions, when the caller has read them already (`readRunEvents`). */
  events?: RunEvents;
}

/** A run's drift events and predictions, as its topics hold them. */
export interface RunEvents {
  drifts: DriftEvent[];
  predictions: Prediction[];
}

/**
 * Reads the drift events and predictions from `from` (per topic) on. Malformed records are the
 * dead-letter topic's business, not a report's: they are passed over.
 */
export async function readRunEvents(
  transport: Transport,
  topics: TopicNames,
  from: CollectOptions['from'] = {},
): Promise<RunEvents> {
  const drifts: DriftEvent[] = [];
  for await (const r of readTopic(transport, topics.driftEvents, from.driftEvents)) {
    try {
      drifts.push(decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.drift] }).data);
    } catch {}
  }
  const predictions: Prediction[] = [];
  for await (const r of readTopic(transport, topics.predictions, from.predictions)) {
    try {
      predictions.push(decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.prediction] }).data);
    } catch {}
  }
  return { drifts, predictions };
}

/**
 * Gathers a report from what the system wrote: drift events and predictions
 * from their topics, versions (scores, decision, lineage, confusion) from the
 * registry and the tracker. Works on any transport, for a finished run or on
 * demand (`activity-tracking report`).
 */
export async function collectReport(
  transport: Transport,
  backend: TrackingBackend,
  topics: TopicNames,
  options: CollectOptions,
): Promise<ReportData> {
  const { drifts, predictions: read } = options.events ?? (await readRunEvents(transport, topics, options.from));
  const predictions = [...read].sort((a, b) => a.window.end - b.window.end);
  const t0 =
    options.startTime ??
    Math.min(
      predictions[0]?.window.start ?? Number.POSITIVE_INFINITY,
      ...drifts.map((d) => d.time ?? Number.POSITIVE_INFINITY),
    );
  const seconds = (ms: number) => (ms - (Number.isFinite(t0) ? t0 : ms)) / 1000;

  const windowSize = options.rollingWindow ?? 100;
  const accuracy: ReportData['accuracy'] = [];
  const deployments: ReportData['deployments'] = [];
  const recent: number[] = [];
  let hits = 0;
  let labelled = 0;
  const seenVersion = new Set<number>();
  for (const p of predictions) {
    if (!seenVersion.has(p.version)) {
      seenVersion.add(p.version);
      deployments.push({ time: seconds(p.window.end), version: p.version, event: 'serving' });
    }
    if (p.label === null || p.label === undefined) continue;
    const hit = p.activity === p.label ? 1 : 0;
    recent.push(hit);
    hits += hit;
    if (recent.length > windowSize) hits -= recent.shift()!;
    if (++labelled % Math.max(1, Math.floor(windowSize / 4)) === 0 && recent.length >= Math.min(windowSize, 20))
      accuracy.push({ time: seconds(p.window.end), accuracy: hits / recent.length, version: p.version });
  }

  const versions: ReportVersion[] = [];
  for (const v of await backend.registry.listVersions(options.model)) {
    const decision = JSON.parse(v.tags['activity-tracking.decision'] ?? 'null') as {
      promote: boolean;
      gate: { reason: string };
      lineage: ModelEvent['lineage'];
    } | null;
    const run = await backend.tracker.getRun(v.runId).catch(() => null);
    const confusion = await backend.tracker
      .readArtifact(v.runId, 'confusion.json')
      .then((b) => JSON.parse(b.toString()) as ReportVersion['confusion'])
      .catch(() => null);
    versions.push({
      version: v.version,
      promoted: decision?.promote ?? v.aliases.includes('champion'),
      reason: decision?.gate.reason ?? '',
      candidate: run?.params.champion_candidate ?? '',
      metrics: run?.metrics ?? {},
      confusion,
      lineage: decision?.lineage ?? null,
    });
  }
  return {
    title: options.title ?? 'Activity Tracking run',
    generatedAt: new Date().toISOString(),
    facts: options.facts ?? {},
    driftStart: options.driftStart ?? null,
    drifts: drifts.map((d) => ({
      time: seconds(d.time ?? t0),
      device: d.device,
      feature: d.feature,
      activity: d.activity,
    })),
    accuracy,
    deployments,
    versions,
  };
}
