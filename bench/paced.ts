import { setTimeout as sleep } from 'node:timers/promises';
import type { VectorEncoding } from '../consumers/featurizer/processor.ts';
import { ReadingsProducer } from '../producers/readings-producer.ts';
import type { Recording } from '../src/data/hapt.ts';
import { decodeEvent } from '../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../src/schemas/registry.ts';
import type { ConsumedRecord, OutgoingRecord, Producer, Transport } from '../src/transport/types.ts';
import { quantile, sorted, startPipeline, vectorTimings } from './pipeline-harness.ts';

/** Samples per message: each phone sends the last second of its 50 Hz readings once a second. */
const CHUNK = 50;
const PERIOD_MS = 1000;
/** Publishes not yet acknowledged before the sender waits for one (backpressure on a slow broker). */
const MAX_IN_FLIGHT = 64;
/**
 * Messages of one publish: a sender that fell a second behind (a loaded machine) sent 988 at once, 3 MB,
 * which Kafka refuses whole (message.max.bytes, 1 MiB).
 */
const MAX_PER_PUBLISH = 100;
/** The sender is on time when 99 % of messages leave within this many ms of their instant. */
const SEND_LAG_LIMIT_MS = 100;
/** The pipeline kept up when the windows of the last seconds of the run got their verdict within this. */
const TAIL_P50_LIMIT_MS = 1000;
const TAIL_SECONDS = 3;

export interface PacedOptions {
  phones: number;
  seconds: number;
  /** Windows completed in the first seconds are left out (JIT, new devices' state). */
  warmupSeconds: number;
  /** 50-sample chunks of the recordings the phones loop over (`chunksOf`). */
  chunks: number[][][][];
  vectorEncoding: VectorEncoding;
  checkpointInterval: number | false;
}

export interface PacedResult {
  phones: number;
  messages: number;
  vectors: number;
  p50: number;
  p99: number;
  max: number;
  /** p99 from the phone's send instant to the verdict: adds the time a reading waited to be sent. */
  p99FromSend: number;
  /** How late the sender published (ms after each message's instant): p99 and max. */
  lagP99: number;
  lagMax: number;
  /** False, with a reason, when the machine did not carry the load: sender late, or the pipeline fell behind. */
  carried: boolean;
  reason?: string;
}

/** Each recording cut into 50-row chunks, rows as the readings API takes them. */
export function chunksOf(recordings: Recording[]): number[][][][] {
  return recordings.map((r) => {
    const rows = r.samples.length / 6;
    const chunks: number[][][] = [];
    for (let from = 0; from + CHUNK <= rows; from += CHUNK) {
      const chunk: number[][] = [];
      for (let i = from; i < from + CHUNK; i++) chunk.push(Array.from(r.samples.subarray(i * 6, i * 6 + 6)));
      chunks.push(chunk);
    }
    return chunks;
  });
}

/**
 * `phones` phones, each sending the last second of its readings (50 samples, timestamped with the instant
 * the first was taken) once a second for `seconds` seconds. Message k (phone k mod N, second ⌊k/N⌋) is due
 * at start + k·1000/N ms: the phones' instants are spread evenly over each second. One timer loop wakes at
 * the next due instant and publishes what is due by then (several messages per wake when N > 1000/s).
 */
async function pacedSend(producer: Producer, topic: string, start: number, o: PacedOptions): Promise<Float64Array> {
  const { phones, seconds, chunks } = o;
  const readings = new ReadingsProducer(producer, { topic });
  const devices = Array.from({ length: phones }, (_, p) => `phone-${String(p).padStart(5, '0')}`);
  const total = phones * seconds;
  const lags = new Float64Array(total);
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let k = 0;
  while (k < total) {
    const now = Date.now();
    const next = start + (k * PERIOD_MS) / phones;
    if (next > now) {
      await sleep(next - now);
      continue;
    }
    const batch: OutgoingRecord[] = [];
    for (; k < total && batch.length < MAX_PER_PUBLISH; k++) {
      const due = start + (k * PERIOD_MS) / phones;
      if (due > now) break;
      const phone = k % phones;
      const recording = chunks[phone % chunks.length];
      const rows = recording[(phone * 7 + Math.floor(k / phones)) % recording.length];
      batch.push(readings.record(devices[phone], rows, { timestamp: Math.round(due) - PERIOD_MS }));
      lags[k] = now - due;
    }
    const sent: Promise<void> = producer
      .publish(batch)
      .catch((err: unknown) => {
        failure ??= err;
      })
      .finally(() => inFlight.delete(sent));
    inFlight.add(sent);
    if (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
    if (failure) throw failure;
  }
  await Promise.all(inFlight);
  if (failure) throw failure;
  return lags.sort();
}

/** The epoch ms of the first sample of a readings record. */
function firstSampleAt(reading: ConsumedRecord): number {
  return decodeEvent(reading.headers, reading.value, { accept: [EVENT_TYPES.sensorReadings] }).data.timestamp;
}

/** One paced run on `transport` (at-least-once): the featurizer and the detector on fresh topics. */
export async function measurePaced(transport: Transport, o: PacedOptions): Promise<PacedResult> {
  const pipeline = await startPipeline(transport, {
    exactlyOnce: false,
    vectorEncoding: o.vectorEncoding,
    checkpointInterval: o.checkpointInterval,
  });
  const producer = await transport.producer();
  const start = Date.now() + 200;
  let lags: Float64Array;
  try {
    lags = await pacedSend(producer, pipeline.topics.sensorReadings, start, o);
    await pipeline.drained();
  } finally {
    await producer.close();
    await pipeline.stop();
  }
  const end = start + o.seconds * PERIOD_MS;
  const timings = await vectorTimings(pipeline, transport);
  const measured = timings.filter((t) => t.appended >= start + o.warmupSeconds * 1000);
  const latencies = sorted(measured.map((t) => t.verdict - t.appended));
  // The phone's instant: its message carries the second of samples before it.
  const fromSend = sorted(measured.map((t) => t.verdict - (firstSampleAt(t.reading) + PERIOD_MS)));
  const tail = sorted(
    timings.filter((t) => t.appended >= end - TAIL_SECONDS * 1000).map((t) => t.verdict - t.appended),
  );
  const r: PacedResult = {
    phones: o.phones,
    messages: lags.length,
    vectors: latencies.length,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    max: latencies.at(-1) ?? 0,
    p99FromSend: Math.round(quantile(fromSend, 0.99)),
    lagP99: Math.round(quantile(lags, 0.99)),
    lagMax: Math.round(lags.at(-1) ?? 0),
    carried: true,
  };
  if (r.lagP99 > SEND_LAG_LIMIT_MS) {
    r.carried = false;
    r.reason = `1 % of messages were sent more than ${r.lagP99} ms after their instant (the sender shares the busy event loop)`;
  } else if (quantile(tail, 0.5) > TAIL_P50_LIMIT_MS) {
    r.carried = false;
    r.reason = `the pipeline fell behind: the last ${TAIL_SECONDS} s of windows waited ${quantile(tail, 0.5)} ms (p50) for their verdict`;
  }
  return r;
}

/**
 * The largest number of phones whose p99 is within `limitMs`: doubling from `from` until a trial fails,
 * then `steps` bisections (to a multiple of 50 phones) between the last success and the first failure.
 * Null when not even the smallest phone count tried passes.
 */
export async function maxPhonesWithin(
  limitMs: number,
  trial: (phones: number) => Promise<PacedResult>,
  { from = 100, steps = 2, ceiling = 102_400 } = {},
): Promise<number | null> {
  const passes = async (phones: number) => {
    const r = await trial(phones);
    return r.carried && r.p99 <= limitMs;
  };
  let ok = 0;
  let bad = 0;
  for (let phones = from; phones <= ceiling; phones *= 2) {
    if (!(await passes(phones))) {
      bad = phones;
      break;
    }
    ok = phones;
  }
  if (bad === 0) return ok;
  for (let step = 0; step < steps; step++) {
    const mid = Math.round((ok + bad) / 2 / 50) * 50;
    if (mid <= ok || mid >= bad) break;
    if (await passes(mid)) ok = mid;
    else bad = mid;
  }
  return ok > 0 ? ok : null;
}
