import { setTimeout as sleep } from 'node:timers/promises';
import type { Recording } from '../../src/data/hapt.ts';
import { retryRetriable } from '../../src/retry.ts';
import type { OutgoingRecord, Producer } from '../../src/transport/types.ts';
import { type ReadingsEncoding, ReadingsProducer } from '../readings-producer.ts';
import { applyInjection, type Injection } from './inject.ts';
import { isTimed, type PhoneForm, PhoneStream } from './phone.ts';

export interface ReplayOptions {
  recordings: Recording[];
  /** `interleaved`: users stream at once as concurrent phones; `sequential`: one after another. @defaultValue 'interleaved' */
  mode?: 'interleaved' | 'sequential';
  /** 1 = real time, 10 = ten times faster, 'max' = as fast as the log takes it. @defaultValue 'max' */
  speed?: number | 'max';
  /** Samples per message (phones send about a second at a time). @defaultValue 50 */
  chunk?: number;
  /** Plays each device's recordings this many times back to back, so activities recur (before and after a drift). @defaultValue 1 */
  loops?: number;
  /**
   * Drift injected into every device from `atSeconds` of its stream on, from
   * the start of loop `fromLoop` (0-based), or from `atFraction` of each
   * device's samples (0.5: the second half), whichever is given.
   */
  drift?: { atSeconds?: number; fromLoop?: number; atFraction?: number; injection: Injection };
  /**
   * Awaited before each second of stream time is sent, after what came before
   * was published: a caller holds the phones here (the main job waits while
   * the loop retrains). Time spent here does not count against `speed`.
   */
  hold?: () => Promise<void>;
  /** Epoch ms of every device's first sample. @defaultValue now */
  startTime?: number;
  /** Messages per publish call. @defaultValue 256 */
  publishBatch?: number;
  topic?: string;
  /**
   * Put before every device id (`<prefix>user-09`): a new prefix makes new phones, whose sequences may
   * start at 0 again. The CLI gives each run its own (`--run-id`). @defaultValue '' (`user-09`)
   */
  devicePrefix?: string;
  /** Called after each publish with the samples sent so far and the total. */
  onProgress?: (sent: number, total: number) => void;
  /**
   * How the phones send: another rate, jittered clocks, split sensors, gaps (producers/replay/phone.ts).
   * Any of these sends timed readings (sensor-readings v2). @defaultValue v1: aligned 50 Hz rows
   */
  phone?: PhoneForm;
  /** The readings bodies (ReadingsProducerOptions.encoding). @defaultValue 'binary' */
  encoding?: ReadingsEncoding;
}

export interface ReplayStats {
  devices: number;
  /** The device ids the readings were sent as. */
  deviceIds: string[];
  samples: number;
  messages: number;
  seconds: number;
  samplesPerSecond: number;
}

interface DeviceStream {
  device: string;
  samples: Float64Array;
  labels: (string | null)[];
}

/** One stream per user (a user is a device): the user's recordings back to back, drift applied from `atSeconds` on. */
function deviceStreams(
  recordings: Recording[],
  drift?: ReplayOptions['drift'],
  loops = 1,
  prefix = '',
): DeviceStream[] {
  const byUser = new Map<number, Recording[]>();
  for (const r of recordings) byUser.set(r.user, [...(byUser.get(r.user) ?? []), r]);
  return [...byUser].map(([user, list]) => {
    const sorted = list.sort((a, b) => a.exp - b.exp);
    const total = sorted.reduce((a, r) => a + r.samples.length, 0) * loops;
    let samples = new Float64Array(total);
    let labels: (string | null)[] = [];
    let o = 0;
    for (let loop = 0; loop < loops; loop++) {
      for (const r of sorted) {
        samples.set(r.samples, o);
        o += r.samples.length;
        labels = labels.concat(r.labels);
      }
    }
    if (drift) {
      const loopLength = labels.length / loops;
      const at = Math.min(
        labels.length,
        drift.fromLoop !== undefined
          ? drift.fromLoop * loopLength
          : drift.atFraction !== undefined
            ? Math.round(labels.length * drift.atFraction)
            : Math.round((drift.atSeconds ?? 0) * 50),
      );
      const tail = applyInjection(samples.subarray(at * 6), labels.slice(at), drift.injection);
      const joined = new Float64Array(at * 6 + tail.samples.length);
      joined.set(samples.subarray(0, at * 6));
      joined.set(tail.samples, at * 6);
      samples = joined;
      labels = labels.slice(0, at).concat(tail.labels);
    }
    return { device: `${prefix}user-${String(user).padStart(2, '0')}`, samples, labels };
  });
}

/**
 * Streams HAPT recordings into the sensor-readings topic keyed by device, as
 * concurrent phones or one after another, in real time, sped up or as fast
 * as possible. Each publish waits for the log's acknowledgement.
 */
export async function replay(producer: Producer, options: ReplayOptions): Promise<ReplayStats> {
  const chunk = options.chunk ?? 50;
  const speed = options.speed ?? 'max';
  const batchSize = options.publishBatch ?? 256;
  const startTime = options.startTime ?? Date.now();
  const streams = deviceStreams(options.recordings, options.drift, options.loops ?? 1, options.devicePrefix);
  const readings = new ReadingsProducer(producer, {
    ...(options.topic ? { topic: options.topic } : {}),
    ...(options.encoding ? { encoding: options.encoding } : {}),
  });
  const phones = isTimed(options.phone)
    ? new Map(streams.map((s) => [s, new PhoneStream(s.device, s, startTime, options.phone!)]))
    : undefined;
  const total = streams.reduce((a, s) => a + s.labels.length, 0);
  const order: { stream: DeviceStream; from: number }[] = [];
  if ((options.mode ?? 'interleaved') === 'interleaved') {
    const longest = Math.max(...streams.map((s) => s.labels.length));
    for (let from = 0; from < longest; from += chunk) {
      for (const stream of streams) if (from < stream.labels.length) order.push({ stream, from });
    }
  } else {
    for (const stream of streams)
      for (let from = 0; from < stream.labels.length; from += chunk) order.push({ stream, from });
  }
  let wallStart = performance.now();
  let sent = 0;
  let messages = 0;
  let batch = [];
  let step = -1;
  for (const { stream, from } of order) {
    if (options.hold && from !== step) {
      step = from;
      if (batch.length > 0) {
        await publish(producer, batch);
        batch = [];
        options.onProgress?.(sent, total);
      }
      const held = performance.now();
      await options.hold();
      wallStart += performance.now() - held;
    }
    const to = Math.min(stream.labels.length, from + chunk);
    const timestamp = startTime + (from * 1000) / 50;
    if (speed !== 'max') {
      const due = (timestamp - startTime) / speed - (performance.now() - wallStart);
      if (due > 1) {
        if (batch.length > 0) {
          await publish(producer, batch);
          batch = [];
        }
        await sleep(due);
      }
    }
    const phone = phones?.get(stream);
    if (phone) {
      const records = phone.records(readings, from, to);
      batch.push(...records);
      messages += records.length;
    } else {
      const rows: number[][] = [];
      for (let i = from; i < to; i++) rows.push(Array.from(stream.samples.subarray(i * 6, i * 6 + 6)));
      batch.push(readings.record(stream.device, rows, { timestamp, labels: stream.labels.slice(from, to) }));
      messages++;
    }
    sent += to - from;
    if (batch.length >= batchSize || bytesOf(batch) >= MAX_PUBLISH_BYTES) {
      await publish(producer, batch);
      batch = [];
      options.onProgress?.(sent, total);
    }
  }
  if (batch.length > 0) await publish(producer, batch);
  options.onProgress?.(sent, total);
  const seconds = (performance.now() - wallStart) / 1000; // held time excluded
  return {
    devices: streams.length,
    deviceIds: streams.map((s) => s.device),
    samples: sent,
    messages,
    seconds,
    samplesPerSecond: sent / seconds,
  };
}

/**
 * A publish's bytes stay well under Kafka's default `message.max.bytes` (1 MiB), which bounds a partition's
 * record batch: 256 JSON readings records of 50 labelled samples take about 1.7 MB, and when a few phones
 * share a partition, most of a publish lands in one batch.
 */
const MAX_PUBLISH_BYTES = 512 * 1024;

function bytesOf(batch: readonly OutgoingRecord[]): number {
  let bytes = 0;
  for (const r of batch) bytes += r.value.length;
  return bytes;
}

/**
 * A replay rides out a broker outage: a publish that failed for a transient reason (the broker
 * unreachable, a leader moving) is sent again, for up to about two minutes.
 */
function publish(producer: Producer, batch: OutgoingRecord[]): Promise<void> {
  return retryRetriable(() => producer.publish(batch), { attempts: 60, initialMs: 500, maxMs: 2000 });
}
