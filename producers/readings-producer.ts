import { InvalidOptionError, InvalidValueError } from '../src/errors.ts';
import { encodeEvent, READINGS_BINARY_CONTENT_TYPE } from '../src/schemas/cloudevents.ts';
import { readingsId, timedReadingsId } from '../src/schemas/event-ids.ts';
import { EVENT_TYPES } from '../src/schemas/registry.ts';
import { TOPICS } from '../src/topics.ts';
import type { OutgoingRecord, Producer } from '../src/transport/types.ts';

export interface SendOptions {
  /** Per-sample activity labels, where the app knows them. */
  labels?: readonly (string | null)[];
  /** Epoch ms of the first sample. @defaultValue continues the device's clock at the sample rate */
  timestamp?: number;
}

/** How a producer encodes readings bodies (docs/schemas.md). */
export type ReadingsEncoding = 'binary' | 'json';

export interface ReadingsProducerOptions {
  topic?: string;
  source?: string;
  sampleRateHz?: number;
  /**
   * `binary`: `application/vnd.activity-tracking.readings+binary` with float64 samples, so a consumer sees
   * exactly the values a JSON body would carry, at a third of its bytes and a sixth of its decode time
   * (`npm run bench:schemas`). `json`: for consumers of your own that only read JSON. Every consumer of
   * the project reads both. @defaultValue 'binary'
   */
  encoding?: ReadingsEncoding;
}

/**
 * The typed API a phone app (or a gateway) calls to send readings: it numbers
 * each device's samples so the featurizer can spot gaps, duplicates and
 * reordering, and encodes CloudEvents keyed by device.
 */
export class ReadingsProducer {
  readonly #producer: Producer;
  readonly #topic: string;
  readonly #source: string;
  readonly #sampleRate: number;
  readonly #body: { contentType?: typeof READINGS_BINARY_CONTENT_TYPE; binaryPrecision?: 64 };
  readonly #devices = new Map<string, { sequence: number; clock: number }>();

  constructor(producer: Producer, options: ReadingsProducerOptions = {}) {
    this.#producer = producer;
    this.#topic = options.topic ?? TOPICS.sensorReadings;
    this.#source = options.source ?? 'activity-tracking/app';
    this.#sampleRate = options.sampleRateHz ?? 50;
    const encoding = options.encoding ?? 'binary';
    if (encoding !== 'binary' && encoding !== 'json')
      throw new InvalidOptionError(`readings encoding must be binary or json, got ${String(encoding)}`);
    this.#body = encoding === 'binary' ? { contentType: READINGS_BINARY_CONTENT_TYPE, binaryPrecision: 64 } : {};
  }

  /** Builds the record for the next `samples` of `device` (rows of 6 values) without sending it. */
  record(device: string, samples: readonly (readonly number[])[], options: SendOptions = {}): OutgoingRecord {
    if (samples.length === 0) throw new InvalidValueError('no samples to send');
    const state = this.#devices.get(device) ?? { sequence: 0, clock: options.timestamp ?? Date.now() };
    const timestamp = options.timestamp ?? state.clock;
    const { headers, value } = encodeEvent({
      type: EVENT_TYPES.sensorReadings,
      source: this.#source,
      subject: device,
      id: readingsId(device, state.sequence),
      time: new Date(timestamp),
      data: {
        device,
        timestamp,
        sampleRate: this.#sampleRate,
        sequence: state.sequence,
        samples: samples as SendSamples,
        ...(options.labels ? { labels: [...options.labels] } : {}),
      },
      ...this.#body,
    });
    this.#devices.set(device, {
      sequence: state.sequence + samples.length,
      clock: timestamp + (samples.length * 1000) / this.#sampleRate,
    });
    return { topic: this.#topic, key: device, headers, value };
  }

  /**
   * Builds a timed-readings record (sensor-readings v2, docs/schemas.md): `rows` of one sensor (3 values:
   * `acc` in g, `gyro` in rad/s) or of both (6 values), each taken at `times[i]` (epoch ms), at whatever
   * rate the phone gives. The featurizer resamples them onto its 50 Hz grid; no sequence is needed.
   */
  timedRecord(
    device: string,
    sensor: 'acc' | 'gyro' | 'both',
    times: readonly number[],
    rows: readonly (readonly number[])[],
    labels?: readonly (string | null)[],
  ): OutgoingRecord {
    if (rows.length === 0) throw new InvalidValueError('no samples to send');
    if (times.length !== rows.length) throw new InvalidValueError(`${times.length} times for ${rows.length} samples`);
    const { headers, value } = encodeEvent({
      type: EVENT_TYPES.sensorReadingsV2,
      source: this.#source,
      subject: device,
      id: timedReadingsId(device, sensor, times[0]),
      time: new Date(times[0]),
      data: {
        device,
        sensor,
        timestamps: times as [number, ...number[]],
        samples: rows as [number[], ...number[][]] as never,
        ...(labels && sensor !== 'gyro' ? { labels: [...labels] } : {}),
      },
      ...this.#body,
    });
    return { topic: this.#topic, key: device, headers, value };
  }

  /** Sends the next samples of a device; resolves once the log acknowledged them. */
  async send(device: string, samples: readonly (readonly number[])[], options: SendOptions = {}): Promise<void> {
    await this.#producer.publish([this.record(device, samples, options)]);
  }
}

type SendSamples = [
  [number, number, number, number, number, number],
  ...[number, number, number, number, number, number][],
];
