import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { decodeEvent, READINGS_BINARY_CONTENT_TYPE } from '../../src/schemas/cloudevents.ts';
import { encodeReadingsBinary } from '../../src/schemas/readings-binary.ts';
import { encodeReadingsBinaryV2 } from '../../src/schemas/readings-binary-v2.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import { waitFor } from '../support/wait.ts';
import {
  closeSockets,
  openStream,
  post,
  readAll,
  readings,
  type TestGateway,
  testGateway,
  timedReadings,
  token,
} from './support.ts';

const V1 = EVENT_TYPES.sensorReadings;
const V2 = EVENT_TYPES.sensorReadingsV2;
const T0 = 1_700_000_000_000;

let current: TestGateway | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  closeSockets(sockets);
  await current?.close();
  current = undefined;
});
const start = async (...args: Parameters<typeof testGateway>) => {
  current = await testGateway(...args);
  return current;
};

describe('POST /v1/readings with ce-type sensor-readings.v2', () => {
  it('takes split sensors as JSON (an acc, then a gyro message) and publishes them as v2 records', async () => {
    const { gateway, transport } = await start();
    const t = await token('phone-v2');
    const acc = { ...timedReadings('phone-v2', 'acc', T0 + 0.5), labels: Array.from({ length: 20 }, () => 'WALKING') };
    const gyro = timedReadings('phone-v2', 'gyro', T0 + 3);
    const a = await post(gateway, acc, { token: t, ceType: V2 });
    const g = await post(gateway, gyro, { token: t, ceType: V2 });
    expect(a.status).toBe(200);
    expect(a.json).toEqual({ ok: true, type: V2, device: 'phone-v2', sensor: 'acc', time: T0 + 0.5, samples: 20 });
    expect(g.json).toEqual({ ok: true, type: V2, device: 'phone-v2', sensor: 'gyro', time: T0 + 3, samples: 20 });
    const records = await readAll(transport);
    expect(records).toHaveLength(2);
    // One device, one partition: in the order sent.
    const [ra, rg] = records;
    expect(ra.key).toBe('phone-v2');
    expect(ra.headers).toMatchObject({
      ce_type: V2,
      ce_id: `phone-v2:acc:${T0 + 0.5}`,
      ce_time: new Date(T0 + 0.5).toISOString(),
      ce_subject: 'phone-v2',
      ce_dataschema: 'https://activity-tracking.dev/schemas/v2/sensor-readings.json',
      'content-type': 'application/json',
    });
    expect(rg.headers).toMatchObject({ ce_type: V2, ce_id: `phone-v2:gyro:${T0 + 3}` });
    expect(ra.value).toEqual(Buffer.from(JSON.stringify(acc)));
    expect(rg.value).toEqual(Buffer.from(JSON.stringify(gyro)));
    const decoded = decodeEvent(ra.headers, ra.value);
    expect(decoded.type).toBe(V2);
    expect(decoded.data).toEqual(acc);
  });

  it('takes the binary body (format 2, start + rate) and publishes the bytes as sent', async () => {
    const { gateway, transport } = await start();
    const both = timedReadings('phone-bin', 'both', T0, { samples: 400, hz: 400, startRate: true });
    const res = await post(gateway, both, { token: await token('phone-bin'), binary: true, ceType: ` ${V2} ` });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ type: V2, sensor: 'both', time: T0, samples: 400 });
    const [record, ...rest] = await readAll(transport);
    expect(rest).toHaveLength(0);
    expect(record.headers).toMatchObject({
      ce_type: V2,
      ce_id: `phone-bin:both:${T0}`,
      ce_time: new Date(T0).toISOString(),
      'content-type': READINGS_BINARY_CONTENT_TYPE,
    });
    expect(record.value).toEqual(encodeReadingsBinaryV2(both, { precision: 64 }));
    expect(decodeEvent(record.headers, record.value).data).toEqual(both);
  });

  it('takes the largest v2 body the schema allows under the default body limit', async () => {
    const { gateway, transport } = await start();
    const n = 2000;
    const largest = {
      device: 'phone-0123456789abcdef',
      sensor: 'both',
      timestamps: Array.from({ length: n }, (_, i) => T0 + i * 2.5 + Math.sin(i) / 7),
      samples: Array.from({ length: n }, (_, i) => Array.from({ length: 6 }, (_, c) => -Math.sin(i * 7 + c) / 3)),
      labels: Array.from({ length: n }, () => 'WALKING_UPSTAIRS'),
    };
    const body = JSON.stringify(largest);
    expect(body.length).toBeGreaterThan(300_000);
    const res = await post(gateway, body, { token: await token(largest.device), ceType: V2 });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ samples: n });
    expect(await readAll(transport)).toHaveLength(1);
  });

  it("refuses bad v2 readings with 400 and the decoder's reason, and publishes none of them", async () => {
    const { gateway, transport } = await start();
    const t = await token('phone-1');
    const acc = timedReadings('phone-1', 'acc', T0, { samples: 3 });
    const { timestamps: _, ...noTimes } = acc;
    const cases: [unknown, { binary?: boolean; ceType?: string }, Record<string, unknown>, RegExp][] = [
      [{ ...acc, samples: [[1, 2, 3, 4, 5, 6]], timestamps: [T0] }, {}, { reason: 'schema-violation' }, /rows of 3/],
      [noTimes, {}, { reason: 'schema-violation' }, /sensor-readings\.v2/],
      [{ ...acc, timestamps: [T0, T0 + 10] }, {}, { reason: 'length-mismatch' }, /2 times for 3 samples/],
      [{ ...acc, labels: ['WALKING'] }, {}, { reason: 'length-mismatch' }, /1 labels for 3 samples/],
      [
        { ...timedReadings('phone-1', 'gyro', T0, { samples: 1 }), labels: ['WALKING'] },
        {},
        { reason: 'schema-violation' },
        /gyro readings carry no labels/,
      ],
      // A v1 body named v2, and a v2 body sent without ce-type (so read as v1).
      [readings('phone-1'), {}, { reason: 'schema-violation' }, /sensor-readings\.v2/],
      [acc, { ceType: '' }, { reason: 'schema-violation' }, /sensor-readings\.v1/],
      [encodeReadingsBinary(readings('phone-1')), { binary: true }, { reason: 'malformed-binary' }, /format 2/],
      [encodeReadingsBinaryV2(acc).subarray(0, 40), { binary: true }, { reason: 'malformed-binary' }, /format 2/],
    ];
    for (const [body, o, json, message] of cases) {
      const res = await post(gateway, body as string, { token: t, ceType: V2, ...o });
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.json).toMatchObject({ error: 'invalid_readings', ...json });
      expect(res.json.message).toMatch(message);
    }
    expect(await readAll(transport)).toHaveLength(0);
  });

  it('refuses v2 readings from another device than the token names with 403', async () => {
    const { gateway, transport } = await start();
    for (const binary of [false, true]) {
      const res = await post(gateway, timedReadings('phone-b', 'acc', T0), {
        token: await token('phone-a'),
        binary,
        ceType: V2,
      });
      expect(res.status).toBe(403);
      expect(res.json).toMatchObject({ error: 'device_mismatch' });
    }
    expect(await readAll(transport)).toHaveLength(0);
  });

  it('answers a retried v2 batch (same Idempotency-Key) with the same ack, publishing once', async () => {
    const { gateway, producer, transport } = await start();
    const t = await token('phone-1');
    const batch = timedReadings('phone-1', 'gyro', T0);
    const key = `phone-1:gyro:${T0}`;
    const a = await post(gateway, batch, { token: t, ceType: V2, key, binary: true });
    const b = await post(gateway, batch, { token: t, ceType: V2, key, binary: true });
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(b.json).toEqual(a.json);
    expect(a.json.idempotencyKey).toBe(key);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(producer.calls).toBe(1);
    expect(await readAll(transport)).toHaveLength(1);
    const other = await post(gateway, timedReadings('phone-1', 'gyro', T0 + 200), { token: t, ceType: V2, key });
    expect(other.status).toBe(422);
  });

  it('refuses an unknown ce-type with 400 naming the two it takes; v1 named explicitly is as before', async () => {
    const { gateway, transport } = await start();
    const t = await token('phone-1');
    for (const ceType of ['dev.activity-tracking.sensor-readings.v3', EVENT_TYPES.deviceCalibration, 'v2']) {
      const res = await post(gateway, readings('phone-1'), { token: t, ceType });
      expect(res.status, ceType).toBe(400);
      expect(res.json.error).toBe('unsupported_event_type');
      expect(res.json.message).toContain(V1);
      expect(res.json.message).toContain(V2);
    }
    expect(await readAll(transport)).toHaveLength(0);
    const v1 = await post(gateway, readings('phone-1', 50), { token: t, ceType: V1 });
    expect(v1.status).toBe(200);
    expect(v1.json).toEqual({ ok: true, device: 'phone-1', sequence: 50, samples: 50 });
    const [record] = await readAll(transport);
    expect(record.headers).toMatchObject({ ce_type: V1, ce_id: 'phone-1:50' });
  });
});

describe('WebSocket /v1/stream?type=sensor-readings.v2', () => {
  it('acks timed readings, and publishes a resent message once (deduplicated by sensor and first time)', async () => {
    const { gateway, transport, producer } = await start();
    const { ws, frames } = await openStream(gateway.url, await token('phone-ws'), sockets, `?type=${V2}`);
    const acc = timedReadings('phone-ws', 'acc', T0);
    // A gyro message starting at the same time is another batch, not a resend.
    const gyro = timedReadings('phone-ws', 'gyro', T0);
    const both = timedReadings('phone-ws', 'both', T0 + 1000, { startRate: true });
    ws.send(JSON.stringify(acc));
    ws.send(JSON.stringify(gyro));
    ws.send(encodeReadingsBinaryV2(both));
    await waitFor(() => frames.length === 3, 'three ack frames');
    expect(frames.sort((a, b) => Number(a.n) - Number(b.n))).toEqual([
      { n: 0, ok: true, type: V2, device: 'phone-ws', sensor: 'acc', time: T0, samples: 20 },
      { n: 1, ok: true, type: V2, device: 'phone-ws', sensor: 'gyro', time: T0, samples: 20 },
      { n: 2, ok: true, type: V2, device: 'phone-ws', sensor: 'both', time: T0 + 1000, samples: 20 },
    ]);
    const records = await readAll(transport);
    expect(records.map((r) => r.headers.ce_id)).toEqual([
      `phone-ws:acc:${T0}`,
      `phone-ws:gyro:${T0}`,
      `phone-ws:both:${T0 + 1000}`,
    ]);
    expect(records.every((r) => r.headers.ce_type === V2)).toBe(true);
    expect(records[2].value).toEqual(encodeReadingsBinaryV2(both));
    const calls = producer.calls;
    ws.send(JSON.stringify(acc));
    ws.send(JSON.stringify(readings('phone-ws', 0)));
    ws.send(JSON.stringify(timedReadings('phone-other', 'acc', T0)));
    await waitFor(() => frames.length === 6, 'three more frames');
    expect(frames.slice(3).sort((a, b) => Number(a.n) - Number(b.n))).toMatchObject([
      { n: 3, ok: true, sensor: 'acc', time: T0 },
      { n: 4, ok: false, error: 'invalid_readings', reason: 'schema-violation' },
      { n: 5, ok: false, error: 'device_mismatch' },
    ]);
    expect(producer.calls).toBe(calls);
    expect(await readAll(transport)).toHaveLength(3);
  });

  it('refuses the upgrade for an unknown type with 400; v1 is the default and may be named', async () => {
    const { gateway, transport } = await start();
    const t = await token('phone-ws');
    await expect(openStream(gateway.url, t, sockets, '?type=sensor-readings.v2')).rejects.toThrow(/400/);
    const { ws, frames } = await openStream(gateway.url, t, sockets, `?type=${V1}`);
    ws.send(JSON.stringify(readings('phone-ws', 0)));
    await waitFor(() => frames.length === 1, 'an ack frame');
    expect(frames[0]).toEqual({ n: 0, ok: true, device: 'phone-ws', sequence: 0, samples: 50 });
    expect(await readAll(transport)).toHaveLength(1);
  });
});
