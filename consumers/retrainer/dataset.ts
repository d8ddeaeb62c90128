import { createHash } from 'node:crypto';
import { FEATURE_NAMES, FEATURE_SET } from '../../src/features/index.ts';
import { datasetDigest } from '../../src/model/train.ts';
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

/** Labelled rows with the position each came from, so the split and the lineage can name records. */
export interface PositionedDataset extends Dataset {
  positions: { partition: number; offset: number }[];
}

export interface TrainingData {
  train: PositionedDataset;
  validation: PositionedDataset;
  lineage: Lineage;
  /** Post-drift and reference vectors, before the split. */
  counts: { postDrift: number; reference: number; skipped: number };
}

export interface DatasetPolicy {
  referenceSize: number;
  validationFraction: number;
  seed: number;
}

/**
 * The post-drift ranges of a burst: per partition, from the earliest first
 * offset of the events' post-drift windows to the newest record when the burst
 * closed (vectors that arrived while the burst gathered are post-drift too).
 * Only the drifted devices' vectors of those ranges are post-drift data.
 */
export function postDriftRanges(events: DriftEvent[], ends: number[]): { ranges: OffsetRange[]; devices: Set<string> } {
  const from = new Map<number, number>();
  const to = new Map<number, number>();
  for (const e of events) {
    const p = e.window.partition;
    from.set(p, Math.min(from.get(p) ?? Number.POSITIVE_INFINITY, e.window.fromOffset));
    to.set(p, Math.max(to.get(p) ?? -1, e.window.toOffset, (ends[p] ?? 0) - 1));
  }
  const ranges = [...from].map(([partition, fromOffset]) => ({ partition, fromOffset, toOffset: to.get(partition)! }));
  return { ranges: ranges.sort((a, b) => a.partition - b.partition), devices: new Set(events.map((e) => e.device)) };
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

function usable(v: FeatureVector): v is FeatureVector & { label: string } {
  return v.label !== null && v.featureSet === FEATURE_SET && v.values.length === FEATURE_NAMES.length;
}

/** Deterministic [0, 1) of a record's position: the split does not depend on read order or batching. */
export function positionHash(seed: number, partition: number, offset: number): number {
  const h = createHash('sha256').update(`${seed}:${partition}:${offset}`).digest();
  return h.readUInt32BE(0) / 2 ** 32;
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
 * - a seeded split by record position into train and validation.
 * With no drift events (the first model), `postDrift` covers everything and
 * `devices` is null: every labelled vector is used.
 */
export async function buildTrainingData(
  transport: Transport,
  topic: string,
  postDrift: { ranges: OffsetRange[]; devices: Set<string> | null },
  policy: DatasetPolicy,
): Promise<TrainingData> {
  const stats = { skipped: 0 };
  const all = emptyDataset();
  const lineageRanges: Lineage['ranges'][number][] = [];
  const add = (record: ConsumedRecord, v: FeatureVector & { label: string }) => {
    all.rows.push(Float64Array.from(v.values));
    all.labels.push(v.label);
    all.positions.push({ partition: record.partition, offset: record.offset });
  };
  let postCount = 0;
  for (const range of postDrift.ranges) {
    let used = 0;
    for await (const [record, v] of readVectors(transport, topic, range, stats)) {
      if (!usable(v) || (postDrift.devices !== null && !postDrift.devices.has(v.device))) continue;
      add(record, v);
      used++;
    }
    lineageRanges.push({ ...range, records: used });
    postCount += used;
  }
  let refCount = 0;
  if (postDrift.devices !== null && policy.referenceSize > 0) {
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
        if (record.offset % stride !== 0 || !usable(v) || refCount >= policy.referenceSize) continue;
        add(record, v);
        used++;
        refCount++;
      }
      if (used > 0) lineageRanges.push({ ...range, records: used });
    }
  }
  const train = emptyDataset();
  const validation = emptyDataset();
  for (let i = 0; i < all.rows.length; i++) {
    const { partition, offset } = all.positions[i];
    const to = positionHash(policy.seed, partition, offset) < policy.validationFraction ? validation : train;
    to.rows.push(all.rows[i]);
    to.labels.push(all.labels[i]);
    to.positions.push(all.positions[i]);
  }
  return {
    train,
    validation,
    lineage: {
      topic,
      ranges: lineageRanges as Lineage['ranges'],
      records: all.rows.length,
      digest: datasetDigest(all),
    },
    counts: { postDrift: postCount, reference: refCount, skipped: stats.skipped },
  };
}
