import { calibrateSamples, frameChange, IDENTITY, isValidCalibration } from '../../src/calibration/affine.ts';
import { InvalidOptionError } from '../../src/errors.ts';
import { FEATURE_SET, type FeatureWindow, Featurizer, flattenRows, WINDOW } from '../../src/features/index.ts';
import type { Logger } from '../../src/log/logger.ts';
import type { PipelineMetrics } from '../../src/metrics/metrics.ts';
import type { Checkpointable, StreamSnapshot } from '../../src/pipeline/checkpoint.ts';
import { processEach, type RecordLoop, RecordRejected, recordLoop } from '../../src/pipeline/dead-letter.ts';
import type { BatchProcessor } from '../../src/pipeline/stream-consumer.ts';
import {
  alreadyApplied,
  type EvictionOptions,
  markApplied,
  StreamStates,
  type Tracked,
} from '../../src/pipeline/stream-state.ts';
import {
  type ContentType,
  decodeEvent,
  encodeEvent,
  FEATURE_VECTOR_BINARY_CONTENT_TYPE,
  JSON_CONTENT_TYPE,
} from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type {
  DeviceCalibration,
  FeatureVector,
  SensorReadings,
  SensorReadingsV2,
} from '../../src/schemas/types.gen.ts';
import { TOPICS, type TopicNames } from '../../src/topics.ts';
import type { ConsumedRecord, OutgoingRecord, RecordBatch, TopicPartition } from '../../src/transport/types.ts';

import { type DeviceState, decodeDevice, encodeDevice } from './state.ts';
import { newTimed, resampleReadings } from './timed.ts';

export const COMPONENT = 'featurizer';

export const VECTOR_ENCODINGS = ['binary', 'json'] as const;
export type VectorEncoding = (typeof VECTOR_ENCODINGS)[number];

/** `value` as a vector encoding, or an InvalidOptionError naming `setting` and the choices. */
export function vectorEncoding(value: string, setting = 'vectorEncoding'): VectorEncoding {
  if (!(VECTOR_ENCODINGS as readonly string[]).includes(value))
    throw new InvalidOptionError(
      `${setting} is "${value}"; choose ${VECTOR_ENCODINGS.join(' or ')} (binary unless a consumer reads JSON only)`,
    );
  return value as VectorEncoding;
}

export interface FeaturizerProcessorOptions {
  /** Sample rate the featurizer computes for; readings at another rate are dead-lettered. @defaultValue 50 */
  sampleRateHz?: number;
  /** Largest readings message accepted, in bytes. @defaultValue 1 MiB */
  maxMessageBytes?: number;
  /**
   * Body of the feature vectors it publishes: `binary` (docs/schemas.md, feature-vector+binary: the
   * values as raw float64, encoded 7× and decoded 5× faster than JSON, half the bytes) or `json`, for consumers
   * that predate the binary body. Every consumer of this project reads both. @defaultValue 'binary'
   */
  vectorEncoding?: VectorEncoding;
  /** Idle devices out of memory (docs/operations.md, "Idle streams"). @defaultValue evicted after 5 minutes idle */
  eviction?: EvictionOptions;
  /** @defaultValue TOPICS */
  topics?: TopicNames;
  logger?: Logger;
  metrics?: PipelineMetrics;
}

/**
 * Consumes sensor readings, keeps each device's partial window, and emits a
 * feature-vector event per completed window, keyed by device. Readings are
 * checked for shape, finiteness, sample rate and order; a record that fails
 * goes to the dead-letter topic and the device's state does not move.
 * A gap in a device's sequence (lost readings) starts the device's windows
 * afresh rather than splicing two stretches of signal into one window.
 *
 * Device calibrations (docs/calibration.md) come in the same topic, keyed by
 * the device, so they apply in order with its readings: from that record on,
 * the device's samples are mapped into the models' frame, and the window in
 * progress is moved into it too (`Featurizer.changeFrame`); each vector names
 * the calibration it was computed under.
 */
export class FeaturizerProcessor implements BatchProcessor, Checkpointable {
  readonly #devices: StreamStates<DeviceState>;
  readonly #rate: number;
  readonly #maxBytes: number;
  readonly #output: string;
  readonly #loop: RecordLoop;
  readonly #metrics: PipelineMetrics | undefined;
  readonly #contentType: ContentType;

  constructor(options: FeaturizerProcessorOptions = {}) {
    const encoding = vectorEncoding(options.vectorEncoding ?? 'binary');
    this.#contentType = encoding === 'json' ? JSON_CONTENT_TYPE : FEATURE_VECTOR_BINARY_CONTENT_TYPE;
    this.#devices = new StreamStates<DeviceState>(encodeDevice, decodeDevice, options.eviction);
    options.metrics?.countStreams(COMPONENT, () => ({ memory: this.#devices.size, evicted: this.#devices.evicted }));
    this.#rate = options.sampleRateHz ?? 50;
    this.#maxBytes = options.maxMessageBytes ?? 1 << 20;
    this.#output = (options.topics ?? TOPICS).features;
    this.#loop = recordLoop(COMPONENT, options);
    this.#metrics = options.metrics;
    for (const kind of IRREGULAR) this.#metrics?.irregularReadings.inc({ component: COMPONENT, kind }, 0);
  }

  /** Devices with state in this instance's memory. */
  get devices(): number {
    return this.#devices.size;
  }

  /** Devices whose state was evicted to the spill directory (idle). */
  get evicted(): number {
    return this.#devices.evicted;
  }

  process(batch: RecordBatch, ends?: number[]): OutgoingRecord[] {
    return processEach(this.#loop, batch.records, (record, out) => this.#processRecord(record, out), ends);
  }

  onRevoked(partitions: TopicPartition[]): void {
    this.#devices.onRevoked(partitions);
  }

  takeCheckpoint(partition: number): StreamSnapshot[] {
    return this.#devices.takeCheckpoint(partition);
  }

  restore(partition: number, snapshots: StreamSnapshot[]): void {
    this.#devices.restore(partition, snapshots);
  }

  changedStreams(partition: number): string[] {
    return this.#devices.changedStreams(partition);
  }

  snapshotStream(key: string): StreamSnapshot | undefined {
    return this.#devices.snapshotStream(key);
  }

  #processRecord(record: ConsumedRecord, out: OutgoingRecord[]): void {
    const event = decodeEvent(record.headers, record.value, {
      accept: [EVENT_TYPES.sensorReadings, EVENT_TYPES.sensorReadingsV2, EVENT_TYPES.deviceCalibration],
      maxBytes: this.#maxBytes,
    });
    if (event.type === EVENT_TYPES.deviceCalibration) this.#calibrate(event.data as DeviceCalibration, record);
    else if (event.type === EVENT_TYPES.sensorReadingsV2)
      this.#timedReadings(event.data as SensorReadingsV2, record, out);
    else this.#readings(event.data as SensorReadings, record, out);
  }

  #calibrate(data: DeviceCalibration, record: ConsumedRecord): void {
    const calibration = { id: data.id, rotation: data.rotation, offset: data.offset };
    if (!isValidCalibration(calibration)) {
      throw new RecordRejected(
        'invalid-calibration',
        `device ${data.device}: calibration ${data.id} is not a rotation (orthonormal, determinant 1) with a finite offset`,
      );
    }
    const state =
      this.#devices.get(data.device, record.partition) ??
      this.#devices.start(
        data.device,
        { ...freshDevice(this.#rate, NOT_STARTED), calibration: null },
        record.partition,
      );
    if (alreadyApplied(state, record.offset)) return;
    markApplied(state, record.offset);
    if (state.calibration?.id === data.id) return;
    const change = frameChange(state.calibration ?? IDENTITY, calibration);
    state.featurizer.changeFrame(change.matrix, change.shift);
    state.calibration = calibration;
    this.#loop.logger?.info(
      { device: data.device, calibration: data.id, model: data.model },
      'device calibration applied',
    );
  }

  #readings(data: SensorReadings, record: ConsumedRecord, out: OutgoingRecord[]): void {
    if (data.sampleRate !== this.#rate) {
      throw new RecordRejected(
        'unsupported-sample-rate',
        `readings at ${data.sampleRate} Hz; this featurizer computes ${this.#rate} Hz windows (resample on the phone)`,
      );
    }
    let state = this.#devices.get(data.device, record.partition);
    if (state && alreadyApplied(state, record.offset)) return;
    if (state?.timed) {
      this.#loop.logger?.warn({ device: data.device }, 'device went from timed readings (v2) to v1; windows restart');
      state = undefined;
    }
    if (state && state.next !== NOT_STARTED && data.sequence < state.next) {
      throw new RecordRejected(
        'out-of-order',
        `device ${data.device}: readings start at sequence ${data.sequence}, but ${state.next} was expected (duplicate or out of order)`,
      );
    }
    const samples = flattenRows(data.samples);
    const calibration = state?.calibration ?? null;
    if (calibration) calibrateSamples(samples, calibration);
    if (state && state.next !== NOT_STARTED && data.sequence > state.next) {
      this.#loop.logger?.warn(
        { device: data.device, expected: state.next, got: data.sequence },
        'gap in readings; windows restart',
      );
      state = undefined;
    }
    if (state?.next === NOT_STARTED) Object.assign(state, freshDevice(this.#rate, data.sequence));
    // Checked before any state is made, so a refused batch leaves none behind.
    const featurizer = state?.featurizer ?? new Featurizer({ sampleRateHz: this.#rate });
    const windows = featurizer.push(samples, data.labels ?? null);
    state ??= this.#devices.start(
      data.device,
      { featurizer, base: data.sequence, next: data.sequence, spans: [], calibration },
      record.partition,
    );
    markApplied(state, record.offset);
    const span = {
      sequence: data.sequence,
      count: data.samples.length,
      timestamp: data.timestamp,
      offset: record.offset,
    };
    this.#emit(data.device, state, windows, span, record, out);
  }

  /**
   * The bookkeeping after samples went into a device's featurizer, whatever form they came in: the span
   * they cover (sequence → time and offset), the device's next sequence, a vector per completed window,
   * and the spans no future window can reach dropped.
   */
  #emit(
    device: string,
    state: DeviceState,
    windows: FeatureWindow[],
    span: DeviceState['spans'][number],
    record: ConsumedRecord,
    out: OutgoingRecord[],
  ): void {
    state.spans.push(span);
    state.next = span.sequence + span.count;
    for (const w of windows) out.push(this.#vector(device, state, w, record));
    const keepFrom = state.next - WINDOW;
    while (state.spans.length > 1 && state.spans[0].sequence + state.spans[0].count <= keepFrom) state.spans.shift();
  }

  /**
   * Readings at any rate with their times (v2): each device's resampler puts them on the 50 Hz grid
   * (src/features/resample.ts), whose rows the featurizer takes as it takes v1 samples; a gap the
   * resampler will not bridge ends the window in progress, and the windows start afresh after it.
   * Sequences count grid rows.
   */
  #timedReadings(data: SensorReadingsV2, record: ConsumedRecord, out: OutgoingRecord[]): void {
    let state = this.#devices.get(data.device, record.partition);
    if (state && alreadyApplied(state, record.offset)) return;
    if (state && !state.timed && state.next !== NOT_STARTED) {
      this.#loop.logger?.warn(
        { device: data.device },
        'device went from v1 readings to timed ones (v2); windows restart',
      );
      state = undefined;
    }
    const timed = state?.timed ?? newTimed();
    const { late, duplicates } = timed.resampler;
    // Refused here, before any state is made or moved, when the message cannot be read.
    const rows = resampleReadings(timed, data);
    this.#irregular(data.device, 'late', timed.resampler.late - late);
    this.#irregular(data.device, 'duplicate', timed.resampler.duplicates - duplicates);
    state ??= this.#devices.start(
      data.device,
      {
        ...freshDevice(this.#rate, 0),
        calibration: this.#devices.get(data.device, record.partition)?.calibration ?? null,
      },
      record.partition,
    );
    if (state.next === NOT_STARTED) Object.assign(state, freshDevice(this.#rate, 0));
    state.timed = timed;
    markApplied(state, record.offset);
    if (rows.count === 0) return;
    if (state.calibration) calibrateSamples(rows.samples, state.calibration);
    const labels = timed.labels.labelsAt(rows.timestamps);
    let from = 0;
    for (let b = 0; b <= rows.breakCount; b++) {
      const to = b < rows.breakCount ? rows.breaks[b] : rows.count;
      if (to > from) {
        const times = rows.times.subarray(from, to);
        const windows = state.featurizer.push(rows.rows.subarray(from * 6, to * 6), labels?.slice(from, to), times);
        const span = { sequence: state.next, count: to - from, timestamp: times[0], offset: record.offset };
        this.#emit(data.device, state, windows, span, record, out);
      }
      if (b < rows.breakCount) {
        // The gap ends the window in progress: the next rows start a featurizer of their own.
        this.#irregular(data.device, 'gap', 1);
        state.featurizer = new Featurizer({ sampleRateHz: this.#rate });
        state.base = state.next;
        state.spans = [];
      }
      from = to;
    }
  }

  #irregular(device: string, kind: (typeof IRREGULAR)[number], n: number): void {
    if (n === 0) return;
    this.#metrics?.irregularReadings.inc({ component: COMPONENT, kind }, n);
    this.#loop.logger?.debug({ device, kind, n }, 'timed readings the grid could not take as they came');
  }

  #locate(state: DeviceState, sequence: number): { time: number; offset: number } {
    for (const span of state.spans) {
      if (sequence >= span.sequence && sequence < span.sequence + span.count) {
        return { time: span.timestamp + ((sequence - span.sequence) * 1000) / this.#rate, offset: span.offset };
      }
    }
    const last = state.spans[state.spans.length - 1];
    return { time: last.timestamp + ((sequence - last.sequence) * 1000) / this.#rate, offset: last.offset };
  }

  #vector(device: string, state: DeviceState, w: FeatureWindow, record: ConsumedRecord): OutgoingRecord {
    const firstSample = state.base + w.firstSample;
    const lastSample = state.base + w.lastSample;
    const first = this.#locate(state, firstSample);
    const last = this.#locate(state, lastSample);
    const { headers, value } = encodeEvent({
      type: EVENT_TYPES.featureVector,
      source: `activity-tracking/${COMPONENT}`,
      subject: device,
      id: `${device}:${firstSample}`,
      time: new Date(last.time),
      contentType: this.#contentType,
      data: {
        device,
        featureSet: FEATURE_SET,
        values: Array.from(w.features) as [number, ...number[]],
        window: { start: first.time, end: last.time, firstSample, lastSample },
        source: {
          topic: record.topic,
          partition: record.partition,
          firstOffset: first.offset,
          lastOffset: last.offset,
        },
        label: w.label,
        ...(state.calibration ? { calibration: state.calibration as FeatureCalibration } : {}),
      },
    });
    return { topic: this.#output, key: device, headers, value };
  }
}

/** What `activity_readings_irregular_total` counts (docs/operations.md). */
const IRREGULAR = ['gap', 'late', 'duplicate'] as const;

/** `next` of a device whose calibration came before any of its readings. */
const NOT_STARTED = -1;

type FeatureCalibration = NonNullable<FeatureVector['calibration']>;

function freshDevice(rate: number, sequence: number): Omit<DeviceState, 'calibration' | keyof Tracked> {
  return { featurizer: new Featurizer({ sampleRateHz: rate }), base: sequence, next: sequence, spans: [] };
}
