import { request } from 'node:https';
import WebSocket, { type ClientOptions } from 'ws';
import { issueDeviceToken } from '../../src/gateway/auth.ts';
import { type Gateway, type GatewayOptions, startGateway } from '../../src/gateway/server.ts';
import { STREAM_PROTOCOL } from '../../src/gateway/stream.ts';
import { READINGS_BINARY_CONTENT_TYPE } from '../../src/schemas/cloudevents.ts';
import { encodeReadingsBinary } from '../../src/schemas/readings-binary.ts';
import { encodeReadingsBinaryV2 } from '../../src/schemas/readings-binary-v2.ts';
import type { SensorReadings, SensorReadingsV2 } from '../../src/schemas/types.gen.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import type { OutgoingRecord, Producer, Transport } from '../../src/transport/types.ts';

export const SECRET = 'test-secret-0123456789abcdef-0123456789';
export const TOPIC = 'sensor-readings';

/** `n` seconds of readings of one phone at 50 Hz, from sample `sequence` on. */
export function readings(device: string, sequence = 0, samples = 50): SensorReadings {
  const rows = Array.from({ length: samples }, (_, i) => {
    const t = (sequence + i) / 50;
    return [Math.sin(t), Math.cos(t), 1, 0.01 * i, -0.02, 0.03] as [number, number, number, number, number, number];
  });
  return {
    device,
    timestamp: 1_700_000_000_000 + sequence * 20,
    sampleRate: 50,
    sequence,
    samples: rows as SensorReadings['samples'],
  };
}

/**
 * Timed readings (v2) of one sensor of one phone: `samples` rows from `start` (epoch ms), `hz` apart, with
 * per-sample timestamps (a little jitter, as Android delivers them) unless `startRate`.
 */
export function timedReadings(
  device: string,
  sensor: SensorReadingsV2['sensor'],
  start: number,
  o: { samples?: number; hz?: number; startRate?: boolean } = {},
): SensorReadingsV2 {
  const { samples = 20, hz = 100, startRate = false } = o;
  const width = sensor === 'both' ? 6 : 3;
  const rows = Array.from({ length: samples }, (_, i) =>
    Array.from({ length: width }, (_, c) => Math.sin(i / 10 + c) + (sensor === 'gyro' ? 0 : c === 2 ? 1 : 0)),
  );
  const times = { timestamps: Array.from({ length: samples }, (_, i) => start + (i * 1000) / hz + (i % 3) * 0.25) };
  return {
    device,
    sensor,
    ...(startRate ? { start, rate: hz } : times),
    samples: rows,
  } as SensorReadingsV2;
}

export const token = (device: string, ttlSeconds = 3600, now?: number) =>
  issueDeviceToken({ secret: SECRET, device, ttlSeconds, ...(now === undefined ? {} : { now }) });

export interface PostOptions {
  token?: string;
  key?: string;
  contentType?: string;
  binary?: boolean;
  /** The `ce-type` header. */
  ceType?: string;
}

/** POSTs a batch to /v1/readings; the body is JSON unless `binary` (format 1 or 2 by its type), or a raw string/buffer as given. */
export async function post(
  gateway: Gateway,
  body: SensorReadings | SensorReadingsV2 | string | Buffer,
  o: PostOptions = {},
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const raw =
    typeof body === 'string' || Buffer.isBuffer(body)
      ? body
      : o.binary
        ? 'sensor' in body
          ? encodeReadingsBinaryV2(body, { precision: 64 })
          : encodeReadingsBinary(body, { precision: 64 })
        : JSON.stringify(body);
  const res = await fetch(`${gateway.url}/v1/readings`, {
    method: 'POST',
    headers: {
      'content-type': o.contentType ?? (o.binary ? READINGS_BINARY_CONTENT_TYPE : 'application/json'),
      ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
      ...(o.key ? { 'idempotency-key': o.key } : {}),
      ...(o.ceType ? { 'ce-type': o.ceType } : {}),
    },
    body: raw,
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

/** POSTs a JSON batch over HTTPS trusting `ca` (Node 20's fetch takes no per-call CA). */
export function postHttps(
  url: string,
  body: SensorReadings,
  t: string,
  ca: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/v1/readings`,
      {
        method: 'POST',
        ca,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
          authorization: `Bearer ${t}`,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString()) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/**
 * A producer around a real one that counts publishes and can be held: while `hold()` is in force, every
 * publish waits (the broker "falls behind") until `release()`. The fault comes from this hook, not a sleep.
 */
export class ControlledProducer implements Producer {
  published: OutgoingRecord[] = [];
  calls = 0;
  waiting = 0;
  #held: Promise<void> | undefined;
  #release: (() => void) | undefined;

  constructor(readonly inner: Producer) {}

  hold(): void {
    this.#held = new Promise((resolve) => {
      this.#release = resolve;
    });
  }

  release(): void {
    this.#release?.();
    this.#held = undefined;
  }

  async publish(records: OutgoingRecord[]): Promise<void> {
    this.calls++;
    if (this.#held) {
      this.waiting++;
      await this.#held;
      this.waiting--;
    }
    await this.inner.publish(records);
    this.published.push(...records);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface TestGateway {
  gateway: Gateway;
  transport: Transport;
  producer: ControlledProducer;
  close(): Promise<void>;
}

/** A gateway on the embedded log (or the given transport), on an ephemeral port, with tokens required by default. */
export async function testGateway(
  options: Partial<GatewayOptions> = {},
  transport: Transport = new EmbeddedLog(),
  topic = TOPIC,
): Promise<TestGateway> {
  await transport.ensureTopics([{ topic, partitions: 3 }]);
  const producer = new ControlledProducer(await transport.producer());
  const gateway = await startGateway({ tokenSecret: SECRET, topic, ...options, producer });
  return {
    gateway,
    transport,
    producer,
    close: async () => {
      producer.release();
      await gateway.close();
      await producer.close();
      await transport.close();
    },
  };
}

/** Every record of a topic, across partitions. */
export async function readAll(transport: Transport, topic = TOPIC) {
  const ends = await transport.endOffsets(topic);
  const out = [];
  for (let p = 0; p < ends.length; p++)
    if (ends[p] > 0) out.push(...(await transport.readRange(topic, p, 0, ends[p] - 1)));
  return out;
}

/**
 * Opens /v1/stream (with `query`, e.g. `?type=…`) with the token in Sec-WebSocket-Protocol, registers
 * the socket in `sockets` for the caller's clean-up, and collects every frame it receives. An `https://`
 * gateway is opened as `wss://` (`options.ca` to trust a test certificate).
 */
export async function openStream(url: string, t: string, sockets: WebSocket[], query = '', options?: ClientOptions) {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/stream${query}`, [STREAM_PROTOCOL, `bearer.${t}`], options);
  sockets.push(ws);
  const frames: Record<string, unknown>[] = [];
  ws.on('message', (data) => frames.push(JSON.parse(String(data))));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  return { ws, frames };
}

/** Terminates every socket a test opened. */
export function closeSockets(sockets: WebSocket[]): void {
  for (const ws of sockets.splice(0)) {
    // A socket whose upgrade was refused reports it once more as an error when terminated.
    ws.on('error', () => {});
    ws.terminate();
  }
}
