import { DetectorBank } from '../../src/drift/bank.ts';
import type { AdwinOptions } from '../../src/drift/options.ts';
import {
  FEATURE_NAMES,
  FEATURE_SET,
  type FeatureScale,
  referenceScale,
  standardize,
} from '../../src/features/index.ts';
import type { Logger } from '../../src/log/logger.ts';
import type { PipelineMetrics } from '../../src/metrics/metrics.ts';
import type { Checkpointable, StreamSnapshot } from '../../src/pipeline/checkpoint.ts';
import { processEach, type RecordLoop, RecordRejected, recordLoop } from '../../src/pipeline/dead-letter.ts';
import type { BatchProcessor } from '../../src/pipeline/stream-consumer.ts';
import { alreadyApplied, type EvictionOptions, markApplied, StreamStates } from '../../src/pipeline/stream-state.ts';
import { decodeEvent, encodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import { TOPICS, type TopicNames } from '../../src/topics.ts';
import type { ConsumedRecord, OutgoingRecord, RecordBatch, TopicPartition } from '../../src/transport/types.ts';
import { Confirmation, type ConfirmationOptions } from './confirm.ts';
import { type DetectorStreamState, decodeStream, encodeStream, offsetRing } from './state.ts';

export const COMPONENT = 'drift-detector';

/**
 * ADWIN settings of the feature banks: river's defaults but for `clock`.
 * A (device, activity) stream gets a vector every 1.28 s only while the user
 * does that activity, so a check every 32 vectors (river's default) can come
 * minutes after a change; every 4 vectors costs little (bench:adwin) and found
 * injected drifts 15-50 s after they began on the HAPT test users (docs/drift.md).
 */
export const DETECTOR_ADWIN: AdwinOptions = { delta: 0.002, clock: 4 };

export interface DriftDetectorOptions {
  /** @defaultValue DETECTOR_ADWIN */
  adwin?: AdwinOptions;
  confirmation?: ConfirmationOptions;
  /** Vectors whose offsets each bank remembers, to name the post-drift window's first offset. @defaultValue 4096 */
  offsetMemory?: number;
  /** Idle (device, activity) banks out of memory (docs/operations.md, "Idle streams"). @defaultValue evicted after 5 minutes idle */
  eviction?: EvictionOptions;
  /** @defaultValue TOPICS */
  topics?: TopicNames;
  logger?: Logger;
  metrics?: PipelineMetrics;
}

interface StreamState extends DetectorStreamState {
  scale: FeatureScale;
}

/**
 * Keeps one detector bank per (device, activity) and emits a drift event per
 * confirmed detection. A change of activity is not drift: a window goes to the
 * bank of its own activity (its label, else the production model's
 * prediction); a window with neither is not fed to any bank. Nor is a new
 * device calibration: the device's banks start again under it. docs/drift.md.
 */
export class DriftDetectorProcessor implements BatchProcessor, Checkpointable {
  readonly #streams: StreamStates<StreamState>;
  readonly #options: DriftDetectorOptions;
  readonly #memory: number;
  readonly #output: string;
  readonly #loop: RecordLoop;
  readonly #scratch = new Float64Array(FEATURE_NAMES.length);
  /** Counters for reports and tests. */
  readonly stats = { vectors: 0, unkeyed: 0, alarms: 0, reported: 0, expired: 0, recalibrated: 0 };

  constructor(options: DriftDetectorOptions = {}) {
    this.#options = options;
    this.#memory = options.offsetMemory ?? 4096;
    this.#streams = new StreamStates<StreamState>(
      encodeStream,
      (bytes) => {
        const s = decodeStream(bytes, this.#memory, options.confirmation);
        return { ...s, scale: referenceScale(s.activity) };
      },
      options.eviction,
    );
    options.metrics?.countStreams(COMPONENT, () => ({ memory: this.#streams.size, evicted: this.#streams.evicted }));
    this.#output = (options.topics ?? TOPICS).driftEvents;
    this.#loop = recordLoop(COMPONENT, options);
    // Known label values start at 0, so that rate() and alerts see the series before the first drift.
    options.metrics?.driftEvents.inc({ component: COMPONENT, kind: 'data' }, 0);
  }

  /** Banks in memory. */
  get banks(): number {
    return this.#streams.size;
  }

  /** Banks evicted to the spill directory (idle). */
  get evicted(): number {
    return this.#streams.evicted;
  }

  process(batch: RecordBatch, ends?: number[]): OutgoingRecord[] {
    return processEach(this.#loop, batch.records, (record, out) => this.#processRecord(record, out), ends);
  }

  onRevoked(partitions: TopicPartition[]): void {
    this.#streams.onRevoked(partitions);
  }

  takeCheckpoint(partition: number): StreamSnapshot[] {
    return this.#streams.takeCheckpoint(partition);
  }

  restore(partition: number, snapshots: StreamSnapshot[]): void {
    this.#streams.restore(partition, snapshots);
  }

  changedStreams(partition: number): string[] {
    return this.#streams.changedStreams(partition);
  }

  snapshotStream(key: string): StreamSnapshot | undefined {
    return this.#streams.snapshotStream(key);
  }

  #processRecord(record: ConsumedRecord, out: OutgoingRecord[]): void {
    const { data } = decodeEvent(record.headers, record.value, { accept: [EVENT_TYPES.featureVector] });
    if (data.featureSet !== FEATURE_SET) {
      throw new RecordRejected(
        'unknown-feature-set',
        `feature set "${data.featureSet}" is not ${FEATURE_SET}, the one this detector knows`,
      );
    }
    if (data.values.length !== FEATURE_NAMES.length) {
      throw new RecordRejected(
        'wrong-feature-count',
        `${data.values.length} feature values, ${FEATURE_NAMES.length} expected for ${FEATURE_SET}`,
      );
    }
    this.stats.vectors++;
    const activity = data.label ?? data.predicted ?? null;
    if (activity === null) {
      this.stats.unkeyed++;
      return;
    }
    const key = `${data.device}\u0000${activity}`;
    const state =
      this.#streams.get(key, record.partition) ??
      this.#streams.start(
        key,
        {
          bank: new DetectorBank(FEATURE_NAMES, this.#options.adwin ?? DETECTOR_ADWIN),
          confirmation: new Confirmation(this.#options.confirmation),
          offsets: new Float64Array(0),
          scale: referenceScale(activity),
          activity,
          calibration: data.calibration?.id ?? null,
        },
        record.partition,
      );
    if (alreadyApplied(state, record.offset)) return;
    markApplied(state, record.offset);
    const calibration = data.calibration?.id ?? null;
    if (calibration !== state.calibration) {
      // A new device calibration moves the features on purpose (docs/calibration.md): the windows start
      // again from it, as a change of activity starts another bank, rather than report it as drift.
      state.bank = new DetectorBank(FEATURE_NAMES, this.#options.adwin ?? DETECTOR_ADWIN);
      state.confirmation = new Confirmation(this.#options.confirmation);
      state.calibration = calibration;
      this.stats.recalibrated++;
    }
    const index = state.bank.updates;
    state.offsets = offsetRing(state.offsets, index, this.#memory);
    state.offsets[index % this.#memory] = record.offset;
    // ADWIN's cut bound has a term in the values' absolute scale: features are put in units of
    // their typical spread within the activity first, so a 0.2 g shift and a 2 rad/s one count alike.
    const findings = state.bank.update(standardize(data.values, state.scale, this.#scratch), record.offset);
    this.stats.alarms += findings.length;
    const { report, expired } = state.confirmation.add(findings, index);
    this.stats.expired += expired;
    for (const { finding, at, confirmedBy } of report) {
      this.stats.reported++;
      this.#loop.metrics?.driftEvents.inc({ component: COMPONENT, kind: 'data' });
      // The post-drift window: the last `widthAfter` vectors this bank saw up to the finding.
      const firstIndex = Math.max(at - finding.widthAfter + 1, index - this.#memory + 1, 0);
      const fromOffset = state.offsets[firstIndex % this.#memory];
      const { headers, value } = encodeEvent({
        type: EVENT_TYPES.drift,
        source: `activity-tracking/${COMPONENT}`,
        subject: data.device,
        id: `${record.topic}:${record.partition}:${finding.position}:${finding.index}`,
        data: {
          kind: 'data',
          device: data.device,
          activity,
          feature: finding.feature,
          featureIndex: finding.index,
          detector: { name: 'adwin', delta: state.bank.delta },
          widthBefore: finding.widthBefore,
          widthAfter: finding.widthAfter,
          meanBefore: Number.isFinite(finding.meanBefore) ? finding.meanBefore : null,
          meanAfter: finding.meanAfter,
          detectedAt: { topic: record.topic, partition: record.partition, offset: finding.position },
          window: { topic: record.topic, partition: record.partition, fromOffset, toOffset: record.offset },
          confirmedBy,
          time: data.window.end,
        },
      });
      out.push({ topic: this.#output, key: data.device, headers, value });
    }
  }
}
