/**
 * bench:gateway — N simulated phones at 50 Hz, each posting a 1 s batch (50 samples, compact binary,
 * with a device token and an Idempotency-Key) every second in real time, through the gateway to the
 * real broker. Prints ack latency p50/p99, samples/s, the gateway's peak RSS, and a last JSON line.
 * `ack_p99_ms` leaves out each phone's first WARM_UP_SECONDS (its connection opened, the JIT warming);
 * `ack_p99_ms_with_warm_up` keeps them. `send_lag_p99_ms` is how late the simulated phones' own event loop
 * was on its send instants: when it grows, the client process, not the gateway, is the limit.
 *
 *   BENCH_PHONES   phones @defaultValue 500
 *   BENCH_SECONDS  seconds of sending @defaultValue 10
 *   BENCH_READINGS v1 (sequenced rows, format 1) or v2 (timed readings, start + rate, format 2, with
 *                  `ce-type`) @defaultValue v1
 *   KAFKA_BROKERS  the broker @defaultValue 127.0.0.1:19092 (scripts/services/kafka.sh start)
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { issueDeviceToken } from '../src/gateway/auth.ts';
import { READINGS_BINARY_CONTENT_TYPE } from '../src/schemas/cloudevents.ts';
import { encodeReadingsBinary } from '../src/schemas/readings-binary.ts';
import { encodeReadingsBinaryV2 } from '../src/schemas/readings-binary-v2.ts';
import { EVENT_TYPES } from '../src/schemas/registry.ts';
import type { SensorReadings, SensorReadingsV2 } from '../src/schemas/types.gen.ts';
import { KafkaTransport } from '../src/transport/kafka/kafka-transport.ts';
import { kafkaOptionsFromEnv } from '../src/transport/kafka/options.ts';

const PHONES = Number(process.env.BENCH_PHONES ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const HZ = 50;
const FORM = process.env.BENCH_READINGS ?? 'v1';
if (FORM !== 'v1' && FORM !== 'v2') throw new Error(`BENCH_READINGS must be v1 or v2, got ${FORM}`);
process.env.KAFKA_BROKERS ??= '127.0.0.1:19092';
const secret = randomUUID() + randomUUID();
const topic = `bench-gateway-${randomUUID()}`;

const admin = new KafkaTransport({ ...kafkaOptionsFromEnv(), clientId: 'bench-gateway-admin' });
await admin.ensureTopics([{ topic, partitions: 12 }]);

const server: ChildProcess = fork(path.join(import.meta.dirname, 'gateway-server.ts'), {
  env: { ...process.env, BENCH_TOPIC: topic, GATEWAY_TOKEN_SECRET: secret },
  execArgv: ['--import', 'tsx'],
});
const ask = <T>(m: string | undefined, key: string): Promise<T> =>
  new Promise((resolve) => {
    const on = (reply: Record<string, unknown>) => {
      if (key in reply) {
        server.off('message', on);
        resolve(reply as T);
      }
    };
    server.on('message', on);
    if (m) server.send(m);
  });
const { url } = await ask<{ url: string }>(undefined, 'url');
const { hostname, port } = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: PHONES + 16 });

function post(body: Buffer, token: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: hostname,
        port,
        method: 'POST',
        path: '/v1/readings',
        headers: {
          'content-type': READINGS_BINARY_CONTENT_TYPE,
          'content-length': body.length,
          authorization: `Bearer ${token}`,
          'idempotency-key': key,
          ...(FORM === 'v2' ? { 'ce-type': EVENT_TYPES.sensorReadingsV2 } : {}),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function v1Body(device: string, second: number, samples: number[][]): Buffer {
  const data: SensorReadings = {
    device,
    timestamp: Date.now(),
    sampleRate: HZ,
    sequence: second * HZ,
    samples: samples as SensorReadings['samples'],
  };
  return encodeReadingsBinary(data);
}

function v2Body(device: string, samples: number[][]): Buffer {
  const data = { device, sensor: 'both', start: Date.now(), rate: HZ, samples } as SensorReadingsV2;
  return encodeReadingsBinaryV2(data);
}

/** Seconds of each phone left out of `ack_p99_ms`: its connection being opened, the JIT warming up. */
const WARM_UP_SECONDS = 2;
const latencies: number[] = [];
const steady: number[] = [];
const lags: number[] = [];
const statuses = new Map<number, number>();
let acked = 0;
let late = 0;

// Tokens are issued before the clock starts: a phone gets its token once, not on the hot path.
const tokens = await Promise.all(
  Array.from({ length: PHONES }, (_, i) => issueDeviceToken({ secret, device: `bench-phone-${i}`, ttlSeconds: 3600 })),
);

async function phone(i: number, start: number): Promise<void> {
  const device = `bench-phone-${i}`;
  const token = tokens[i];
  const samples = Array.from({ length: HZ }, (_, k) => [Math.sin(k + i), Math.cos(k), 1, 0.01, -0.02, 0.03]);
  // Phones start spread over the first second, as real ones would.
  const offset = (i * 1000) / PHONES;
  for (let s = 0; s < SECONDS; s++) {
    const due = start + offset + s * 1000;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    else late++;
    lags.push(Math.max(0, performance.now() - due));
    const body = FORM === 'v1' ? v1Body(device, s, samples) : v2Body(device, samples);
    const t0 = performance.now();
    const status = await post(body, token, `${device}:${s * HZ}`);
    const ms = performance.now() - t0;
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    if (status === 200) {
      latencies.push(ms);
      if (s >= WARM_UP_SECONDS) steady.push(ms);
      acked += HZ;
    }
  }
}

const start = performance.now() + 500;
await Promise.all(Array.from({ length: PHONES }, (_, i) => phone(i, start)));
const elapsed = (performance.now() - start) / 1000;
const { rss, idempotencyKeys } = await ask<{ rss: number; idempotencyKeys: number }>('rss', 'rss');
server.send('stop');
await new Promise((resolve) => server.once('exit', resolve));
const ends = await admin.endOffsets(topic);
await admin.close();
agent.destroy();

for (const xs of [latencies, steady, lags]) xs.sort((a, b) => a - b);
const pct = (p: number, xs = steady) => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? Number.NaN;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const result = {
  phones: PHONES,
  samples_per_s: Math.round(acked / elapsed),
  ack_p99_ms: round(pct(0.99)),
  ack_p99_ms_with_warm_up: round(pct(0.99, latencies)),
  send_lag_p99_ms: round(pct(0.99, lags)),
  rss_mb: Math.round(rss / 2 ** 20),
};
console.log(
  `phones ${PHONES} at ${HZ} Hz for ${SECONDS} s (1 s batches, binary ${FORM}, tokens, Idempotency-Key), broker ${process.env.KAFKA_BROKERS}`,
);
console.log(`statuses ${JSON.stringify(Object.fromEntries(statuses))}; batches sent late ${late}`);
console.log(`records in the topic ${ends.reduce((a, b) => a + b, 0)}; idempotency keys held ${idempotencyKeys}`);
console.log(
  `ack latency after each phone's first ${WARM_UP_SECONDS} s: p50 ${round(pct(0.5))} ms, p99 ${round(pct(0.99))} ms, max ${round(steady.at(-1) ?? Number.NaN)} ms`,
);
console.log(
  `  with the warm-up: p50 ${round(pct(0.5, latencies))} ms, p99 ${result.ack_p99_ms_with_warm_up} ms, max ${round(latencies.at(-1) ?? Number.NaN)} ms`,
);
console.log(
  `send lag (the simulated phones' own event loop late on a send instant): p99 ${result.send_lag_p99_ms} ms, max ${round(lags.at(-1) ?? Number.NaN)} ms`,
);
console.log(`samples/s ${result.samples_per_s} (real time: ${PHONES * HZ}); gateway peak rss ${result.rss_mb} MB`);
console.log(JSON.stringify(result));
