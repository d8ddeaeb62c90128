import { type Calibration, IDENTITY, toRaw, type Vec3 } from '../../src/calibration/affine.ts';
import { type CalibrationFit, type CalibrationPair, fitCalibration, residual } from '../../src/calibration/fit.ts';
import { FEATURE_NAMES, FEATURE_SET } from '../../src/features/index.ts';
import { decodeEvent, encodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { DeviceCalibration, FeatureVector } from '../../src/schemas/types.gen.ts';
import type { TopicNames } from '../../src/topics.ts';
import { readPartition } from '../../src/transport/read.ts';
import type { OutgoingRecord, Transport } from '../../src/transport/types.ts';
import type { DeviceStart } from './dataset.ts';

/** A device's calibration as feature vectors carry it. */
export interface DeviceFrame extends Calibration {
  id: string;
}

export interface CalibrationPolicy {
  /** Fit nothing smaller: a phone worn on another day sits 10-35° apart with no drift at all. */
  calibrationMinDegrees: number;
  /** ... nor an offset below this (g). */
  calibrationMinOffset: number;
  /** Labelled windows per activity, before and after the drift, for the activity to count in a fit. */
  calibrationMinWindows: number;
  /** Records before the drift read back for each device's reference means. */
  calibrationLookback: number;
}

/** What the calibration step decided for each followed device. */
export interface CalibrationStep {
  /** Device calibration records to publish (sensor-readings topic, keyed by device). */
  records: OutgoingRecord[];
  /** Each followed device's calibration from now on (null: none): training keeps only vectors made under it. */
  current: Map<string, string | null>;
  /** Each followed device's calibration as now known (published here, or seen on its latest vector). */
  frames: Map<string, DeviceFrame | null>;
  /** Why each followed device got no new calibration (logs, tests). */
  skipped: Map<string, string>;
  /** The devices given a new calibration now, with the fit and the activities it used. */
  published: Map<string, { frame: DeviceFrame; fit: CalibrationFit; activities: string[] }>;
}

const index = (name: string) => {
  const i = FEATURE_NAMES.indexOf(name);
  if (i < 0) throw new Error(`feature ${name} is not in ${FEATURE_SET}`);
  return i;
};
/** Gravity + body acceleration means: the window's mean acceleration, linear in the readings. */
const MEAN_ACC = (['X', 'Y', 'Z'] as const).map((a) => [index(`tGravityAcc-${a}-mean`), index(`tBodyAcc-${a}-mean`)]);

function meanAcc(values: readonly number[]): Vec3 {
  return MEAN_ACC.map(([g, b]) => values[g] + values[b]) as Vec3;
}

/**
 * Per-activity mean accelerations of one device, as the per-axis median of its windows' means (the last
 * `keep` windows of each activity): the post-drift range a drift event names can start a little before
 * the change, and a median shrugs off those windows where a mean was pulled halfway (npm start fitted
 * 0.26-0.32 g where the phones had turned by 45°, about 0.77 g).
 */
class ActivityMeans {
  readonly #windows = new Map<string, Vec3[]>();
  /** Keeps the first `keep` windows of each activity (`oldest`) or the last `keep`. */
  constructor(
    readonly keep: number,
    readonly oldest: boolean,
  ) {}
  add(activity: string, v: Vec3): void {
    const list = this.#windows.get(activity) ?? [];
    if (this.oldest && list.length >= this.keep) return;
    list.push(v);
    if (list.length > this.keep) list.shift();
    this.#windows.set(activity, list);
  }
  get(activity: string): { mean: Vec3; n: number } | undefined {
    const list = this.#windows.get(activity);
    if (!list) return undefined;
    const median = (axis: number) => {
      const xs = list.map((v) => v[axis]).sort((x, y) => x - y);
      const m = xs.length >> 1;
      return xs.length % 2 ? xs[m] : (xs[m - 1] + xs[m]) / 2;
    };
    return { mean: [median(0), median(1), median(2)], n: list.length };
  }
  activities(): string[] {
    return [...this.#windows.keys()];
  }
}

/**
 * Per-device calibration after a drift (docs/calibration.md): for each
 * followed device, the mean acceleration of each activity before the drift
 * (as the models saw it) and after it (mapped back to raw readings through
 * the calibration each vector names) give the rotation or offset the phone
 * moved by; where that explains the change far better than the device's
 * current calibration, a new one is published. Needs labelled windows of an
 * activity on both sides; with one activity only the tilt is known, so fits
 * are repeated as the drifted phones do more activities.
 */
export async function calibrateDevices(
  transport: Transport,
  topics: TopicNames,
  episode: {
    key: string;
    starts: ReadonlyMap<string, DeviceStart>;
    /** Per device and activity (`device\u0000activity`), the offset of its first data-drift detection. */
    detections: ReadonlyMap<string, number>;
  },
  known: ReadonlyMap<string, DeviceFrame | null>,
  policy: CalibrationPolicy,
): Promise<CalibrationStep> {
  const before = new Map<string, ActivityMeans>();
  const after = new Map<string, ActivityMeans>();
  const latest = new Map<string, DeviceFrame | null>();
  const ends = await transport.endOffsets(topics.features);
  const earliest = new Map<number, number>();
  const lastDetection = new Map<string, number>();
  for (const [key, offset] of episode.detections) {
    const device = key.slice(0, key.indexOf('\u0000'));
    lastDetection.set(device, Math.max(lastDetection.get(device) ?? offset, offset));
  }
  for (const { partition, offset } of episode.starts.values()) {
    const from = offset - policy.calibrationLookback;
    earliest.set(partition, Math.min(earliest.get(partition) ?? from, from));
  }
  for (const [partition, from] of earliest) {
    const end = (ends[partition] ?? 0) - 1;
    const start = Math.max(0, from);
    if (end < start) continue;
    for await (const record of readPartition(transport, topics.features, partition, start, end)) {
      let v: FeatureVector;
      try {
        v = decodeEvent(record.headers, record.value, { accept: [EVENT_TYPES.featureVector] }).data;
      } catch {
        continue; // not a vector the featurizer wrote: no part in a fit
      }
      const drift = episode.starts.get(v.device);
      if (!drift || drift.partition !== partition || v.featureSet !== FEATURE_SET) continue;
      const frame = v.calibration
        ? { id: v.calibration.id, rotation: v.calibration.rotation, offset: v.calibration.offset }
        : null;
      if (record.offset >= drift.offset) latest.set(v.device, frame);
      if (v.label === null) continue;
      // Where this activity's windows are surely drifted: from its own bank's first detection, else from
      // the phone's latest one. Not from the drift events' post-drift range: ADWIN may keep a window that
      // reaches back to the phone's first vectors, long before the change (npm start, rotation:y:90).
      const seen = episode.detections.get(`${v.device}\u0000${v.label}`);
      const changed = seen ?? lastDetection.get(v.device) ?? drift.offset;
      const mean = meanAcc(v.values);
      if (record.offset < (seen ?? drift.offset)) group(before, v.device, REFERENCE_WINDOWS, true).add(v.label, mean);
      else if (record.offset >= changed)
        group(after, v.device, RECENT_WINDOWS, false).add(v.label, toRaw(frame ?? IDENTITY, mean));
    }
  }
  const records: OutgoingRecord[] = [];
  const current = new Map<string, string | null>();
  const frames = new Map<string, DeviceFrame | null>();
  const published: CalibrationStep['published'] = new Map();
  const skipped = new Map<string, string>();
  for (const device of episode.starts.keys()) {
    const now = known.has(device) ? known.get(device)! : (latest.get(device) ?? null);
    frames.set(device, now);
    current.set(device, now?.id ?? null);
    const pairs = pairsOf(before.get(device), after.get(device), policy.calibrationMinWindows);
    if (pairs.length === 0) {
      const seen = (m: ActivityMeans | undefined) =>
        m
          ?.activities()
          .map((a) => `${a}:${m.get(a)!.n}`)
          .join(',') ?? 'none';
      skipped.set(
        device,
        `no activity with ${policy.calibrationMinWindows} windows on both sides (before ${seen(before.get(device))}; after ${seen(after.get(device))})`,
      );
      continue;
    }
    const fit = fitCalibration(pairs);
    const worthIt =
      fit.model !== 'identity' &&
      (fit.degrees >= policy.calibrationMinDegrees || fit.offsetNorm >= policy.calibrationMinOffset);
    const candidate = worthIt ? fit.calibration : IDENTITY;
    const was = residual(pairs, now ?? IDENTITY);
    const will = residual(pairs, candidate);
    // A new calibration must explain the change far better than the one in place (or withdraw one that hurts).
    if (!(will < was / 2 && was - will > 1e-3)) {
      skipped.set(
        device,
        `[${pairs.map((p) => p.activity).join(',')}] ${fit.model} ${fit.degrees.toFixed(0)}° ${fit.offsetNorm.toFixed(2)} g: residual ${will.toFixed(4)} vs ${was.toFixed(4)} now`,
      );
      continue;
    }
    const id = `${device}:${episode.key}`;
    const frame = { id, rotation: [...candidate.rotation], offset: [...candidate.offset] };
    frames.set(device, frame);
    current.set(device, id);
    const kept = worthIt ? fit : { ...fit, model: 'identity' as const };
    published.set(device, { frame, fit: kept, activities: pairs.map((p) => p.activity) });
    records.push(calibrationRecord(topics, device, frame, kept, pairs, episode.key));
  }
  return { records, current, frames, published, skipped };
}

/**
 * Windows per activity behind a reference mean (the phone's oldest before the drift: the windows just
 * before a detection may be drifted already) and an observed one (the latest after it).
 */
const REFERENCE_WINDOWS = 64;
const RECENT_WINDOWS = 24;

function group(map: Map<string, ActivityMeans>, device: string, keep: number, oldest: boolean): ActivityMeans {
  let m = map.get(device);
  if (!m) map.set(device, (m = new ActivityMeans(keep, oldest)));
  return m;
}

function pairsOf(before: ActivityMeans | undefined, after: ActivityMeans | undefined, min: number): CalibrationPair[] {
  if (!before || !after) return [];
  const pairs: CalibrationPair[] = [];
  for (const activity of after.activities().sort()) {
    const a = after.get(activity)!;
    const b = before.get(activity);
    if (!b || a.n < min || b.n < min) continue;
    pairs.push({ activity, reference: b.mean, observed: a.mean, weight: Math.min(a.n, b.n) });
  }
  return pairs;
}

function calibrationRecord(
  topics: TopicNames,
  device: string,
  frame: DeviceFrame,
  fit: CalibrationFit,
  pairs: CalibrationPair[],
  trigger: string,
): OutgoingRecord {
  const data: DeviceCalibration = {
    device,
    id: frame.id,
    rotation: frame.rotation as DeviceCalibration['rotation'],
    offset: frame.offset as DeviceCalibration['offset'],
    model: fit.model,
    fit: {
      residual: fit.residual,
      identityResidual: fit.identityResidual,
      degrees: fit.degrees,
      offsetNorm: fit.offsetNorm,
      activities: pairs.map((p) => p.activity),
    },
    trigger: trigger.slice(0, 512),
  };
  const { headers, value } = encodeEvent({
    type: EVENT_TYPES.deviceCalibration,
    source: 'activity-tracking/retrainer',
    subject: device,
    id: frame.id,
    data,
  });
  return { topic: topics.sensorReadings, key: device, headers, value };
}
