import { FEATURE_NAMES, FEATURE_SET } from '../../src/features/index.ts';
import { datasetDigest } from '../../src/model/train.ts';
import { isUnseen, type TrainedUntil } from '../../src/model/trained-until.ts';
import type { Dataset } from '../../src/model/types.ts';
import { decodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { DriftEvent, FeatureVector, ModelEvent } from '../../src/schemas/types.gen.ts';
import { readPartition } from '../../src/transport/read.ts';
import type { ConsumedRecord, Transport } from '../../src/transport/types.ts';

/** An inclusive offset range of one partition. */
export interface OffsetRange {
  partition: number;
  fromOffset: number;
  toOffset: number;
}

export type Lineage = NonNullable<ModelEvent['lineage']>;

/** Where a row came from: its record, and the device samples its window covers. */
export interface RowOrigin {
  partition: number;
  offset: number;
  device: string;
  firstSample: number;
  lastSample: number;
  /** From the post-drift ranges (false: the reference sample from before them). */
  postDrift: boolean;
}

/** Labelled rows with the origin of each, so the split, the gate and the lineage can name records. */
export interface PositionedDataset extends Dataset {
  positions: RowOrigin[];
}

export interface TrainingData {
  train: PositionedDataset;
  validation: PositionedDataset;
  lineage: Lineage;
  /** Post-drift and reference vectors, before the split; `gap`: windows left out between train and validation. */
  counts: { postDrift: number; reference: number; skipped: number; superseded: number; gap: number };
  trainedUntil: TrainedUntil;
}

/** The post-drift data of a retraining: ranges, the drifted devices (null: every device), and their calibrations. */
export interface PostDrift {
  ranges: OffsetRange[];
  devices: Set<string> | null;
  /**
   * Each calibrated device's calibration from now on (docs/calibration.md): its post-drift vectors made
   * under another one (before it, or under an earlier fit) are left out, as that phone no longer sends them.
   */
  calibrations?: ReadonlyMap<string, string | null>;
}

export interface DatasetPolicy {
  referenceSize: number;
  validationFraction: number;
}

/** Where a device's drift begins: the first vector its drift events kept after the cut. */
export interface DeviceStart {
  partition: number;
  offset: number;
}

export interface PostDriftBurst {
  ranges: OffsetRange[];
  devices: Set<string>;
  /** Per device, its own post-drift start (a partition's range starts at its earliest device's). */
  starts: Map<string, DeviceStart>;
  /** Per `device\u0000activity`, the offset of the vector that triggered its first data-drift event. */
  detections: Map<string, number>;
}

/**
 * The post-drift ranges of a burst: per partition, from the earliest first
 * offset of the events' post-drift windows to the newest record when the burst
 * closed (vectors that arrived while the burst gathered are post-drift too).
 * Only the drifted devices' vectors of those ranges are post-drift data.
 */
export function postDriftRanges(events: DriftEvent[], ends: number[]): PostDriftBurst {
  const from = new Map<number, number>();
  const to = new Map<number, number>();
  for (const e of events) {
    const p = e.window.partition;
    from.set(p, Math.min(from.get(p) ?? Number.POSITIVE_INFINITY, e.window.fromOffset));
    to.set(p, Math.max(to.get(p) ?? -1, e.window.toOffset, (ends[p] ?? 0) - 1));
  }
  const ranges = [...from].map(([partition, fromOffset]) => ({ partition, fromOffset, toOffset: to.get(partition)! }));
  const starts = new Map<string, DeviceStart>();
  for (const e of events) {
    const s = starts.get(e.device);
    if (!s || e.window.fromOffset < s.offset)
      starts.set(e.device, { partition: e.window.partition, offset: e.window.fromOffset });
  }
  const detections = new Map<string, number>();
  for (const e of events) {
    if (e.kind !== 'data' || e.activity === null) continue;
    const key = `${e.device}\u0000${e.activity}`;
    detections.set(key, Math.min(detections.get(key) ?? e.detectedAt.offset, e.detectedAt.offset));
  }
  return {
    ranges: ranges.sort((a, b) => a.partition - b.partition),
    devices: new Set(starts.keys()),
    starts,
    detections,
  };
}

async function* readVectors(
  transport: Transport,
  topic: string,
  range: OffsetRange,
  stats: { skipped: number },
): AsyncGenerator<[ConsumedRecord, FeatureVector]> {
  for await (const record of readPartition(transport, topic, range.partition, range.fromOffset, range.toOffset)) {
    try {
      yield [record, decodeEvent(record.headers, record.value, { accept: [EVENT_TYPES.featureVector] }).data];
    } catch {
      // A vector the featurizer would not write (foreign producer): it has no place in training data.
      stats.skipped++;
    }
  }
}

function superseded(v: FeatureVector, calibrations: ReadonlyMap<string, string | null> | undefined): boolean {
  if (!calibrations?.has(v.device)) return false;
  return (v.calibration?.id ?? null) !== calibrations.get(v.device);
}

function usable(v: FeatureVector): v is FeatureVector & { label: string } {
  return v.label !== null && v.featureSet === FEATURE_SET && v.values.length === FEATURE_NAMES.length;
}

function emptyDataset(): PositionedDataset {
  return { featureSet: FEATURE_SET, featureNames: FEATURE_NAMES, rows: [], labels: [], positions: [] };
}

/**
 * Builds the training data of one retraining (docs/retraining.md):
 * - post-drift: the labelled vectors of the drifted devices in `postDrift`;
 * - reference: up to `referenceSize` labelled vectors from before the
 *   post-drift ranges (every partition of the topic, evenly strided), so the
 *   new model still knows the devices and activities that did not drift;
 * - a split in time per device with no shared samples (`splitByTime`).
 * With no drift events (the first model), `postDrift` covers everything and
 * `devices` is null: every labelled vector is used.
 */
export async function buildTrainingData(
  transport: Transport,
  topic: string,
  postDrift: PostDrift,
  policy: DatasetPolicy,
): Promise<TrainingData> {
  const stats = { skipped: 0, superseded: 0 };
  const all = emptyDataset();
  const lineageRanges: Lineage['ranges'][number][] = [];
  const add = (record: ConsumedRecord, v: FeatureVector & { label: string }, postDrift: boolean) => {
    all.rows.push(Float64Array.from(v.values));
    all.labels.push(v.label);
    all.positions.push({
      partition: record.partition,
      offset: record.offset,
      device: v.device,
      firstSample: v.window.firstSample,
      lastSample: v.window.lastSample,
      postDrift,
    });
  };
  let postCount = 0;
  for (const range of postDrift.ranges) {
    let used = 0;
    for await (const [record, v] of readVectors(transport, topic, range, stats)) {
      if (!usable(v) || (postDrift.devices !== null && !postDrift.devices.has(v.device))) continue;
      if (superseded(v, postDrift.calibrations)) {
        stats.superseded++;
        continue;
      }
      add(record, v, true);
      used++;
    }
    lineageRanges.push({ ...range, records: used });
    postCount += used;
  }
  let refCount = 0;
  if (postDrift.devices !== null && policy.referenceSize > 0) {
    const drifting = postDrift.devices;
    const ends = await transport.endOffsets(topic);
    const before = ends.map((end, partition) => {
      const r = postDrift.ranges.find((x) => x.partition === partition);
      return { partition, fromOffset: 0, toOffset: (r ? r.fromOffset : end) - 1 };
    });
    const total = before.reduce((n, r) => n + Math.max(0, r.toOffset + 1), 0);
    // Records, not labelled vectors, are strided: a stride from the record count keeps the rule simple and reproducible.
    const stride = Math.max(1, Math.ceil(total / policy.referenceSize));
    for (const range of before) {
      if (range.toOffset < 0) continue;
      let used = 0;
      for await (const [record, v] of readVectors(transport, topic, range, stats)) {
        // The drifting phones' own windows from before the drift are left out: those phones no longer send
        // such windows, and the same body's old orientation is what the new one is most confused with.
        if (record.offset % stride !== 0 || !usable(v) || drifting.has(v.device) || refCount >= policy.referenceSize)
          continue;
        add(record, v, false);
        used++;
        refCount++;
      }
      if (used > 0) lineageRanges.push({ ...range, records: used });
    }
  }
  const { train, validation, gap } = splitByTime(all, policy.validationFraction);
  return {
    train,
    validation,
    lineage: {
      topic,
      ranges: lineageRanges as Lineage['ranges'],
      records: all.rows.length,
      digest: datasetDigest(all),
    },
    counts: { postDrift: postCount, reference: refCount, skipped: stats.skipped, superseded: stats.superseded, gap },
    trainedUntil: trainedUntil(train),
  };
}

/**
 * The honest split (docs/retraining.md): for each device and activity, the
 * latest `fraction` of its windows (by sample index) are validation, and
 * training keeps only that device's windows that share no sample with any
 * validation window. Consecutive windows share half their samples, so a
 * random split would put a near-copy of nearly every validation window into
 * training; this one leaves none. Validation comes later than training within
 * each activity, and holds every activity the data has (a split by time alone
 * validated on the last one or two activities, and the gate's estimates were
 * 25 to 34 points above what the versions then did live). A device and
 * activity with too few windows for both sides trains only.
 */
export function splitByTime(
  all: PositionedDataset,
  fraction: number,
): { train: PositionedDataset; validation: PositionedDataset; gap: number } {
  const groups = new Map<string, number[]>();
  for (let i = 0; i < all.rows.length; i++) {
    const key = `${all.positions[i].device}\u0000${all.labels[i]}`;
    const list = groups.get(key);
    if (list) list.push(i);
    else groups.set(key, [i]);
  }
  const side = new Int8Array(all.rows.length); // 0 train, 1 validation, -1 left out
  const held = new Map<string, [number, number][]>(); // per device: validation sample ranges
  for (const indices of groups.values()) {
    const n = Math.floor(indices.length * fraction);
    if (n < 1 || indices.length - n < 2) continue;
    indices.sort((a, b) => all.positions[a].firstSample - all.positions[b].firstSample || a - b);
    for (const i of indices.slice(indices.length - n)) {
      side[i] = 1;
      const p = all.positions[i];
      const ranges = held.get(p.device) ?? [];
      ranges.push([p.firstSample, p.lastSample]);
      held.set(p.device, ranges);
    }
  }
  for (let i = 0; i < all.rows.length; i++) {
    if (side[i] !== 0) continue;
    const p = all.positions[i];
    const ranges = held.get(p.device);
    if (ranges?.some(([from, to]) => p.firstSample <= to && from <= p.lastSample)) side[i] = -1;
  }
  return {
    train: subset(all, (i) => side[i] === 0),
    validation: subset(all, (i) => side[i] === 1),
    gap: side.reduce((n, x) => n + (x < 0 ? 1 : 0), 0),
  };
}

/** The rows of `data` whose index `keep` accepts, in order, with their labels and origins. */
function subset(data: PositionedDataset, keep: (i: number) => boolean): PositionedDataset {
  const out = emptyDataset();
  for (let i = 0; i < data.rows.length; i++) {
    if (!keep(i)) continue;
    out.rows.push(data.rows[i]);
    out.labels.push(data.labels[i]);
    out.positions.push(data.positions[i]);
  }
  return out;
}

/** Per device, the last sample any of `data`'s windows covers. */
export function trainedUntil(data: PositionedDataset): TrainedUntil {
  const out: TrainedUntil = {};
  for (const p of data.positions) out[p.device] = Math.max(out[p.device] ?? -1, p.lastSample);
  return out;
}

/**
 * The rows of `data` that start after what a model trained until (unseen by it), and, when there are
 * any, only post-drift rows: the gate asks how a model does on what the drifted phones send now, and
 * reference rows (where both models agree) would only dilute that estimate.
 */
export function unseenBy(data: PositionedDataset, until: TrainedUntil | null): PositionedDataset {
  const post = data.positions.some((p) => p.postDrift);
  return subset(data, (i) => {
    const p = data.positions[i];
    return (!post || p.postDrift) && isUnseen(until, p.device, p.firstSample);
  });
}
