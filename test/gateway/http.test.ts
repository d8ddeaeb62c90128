import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidOptionError, TransportError } from '../../src/errors.ts';
import { TOKEN_AUDIENCE } from '../../src/gateway/auth.ts';
import { startGateway } from '../../src/gateway/server.ts';
import { decodeEvent } from '../../src/schemas/cloudevents.ts';
import { encodeReadingsBinary } from '../../src/schemas/readings-binary.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import { waitFor } from '../support/wait.ts';
import { post, readAll, readings, SECRET, type TestGateway, testGateway, token } from './support.ts';

let current: TestGateway | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});
const start = async (...args: Parameters<typeof testGateway>) => {
  current = await testGateway(...args);
  return current;
};

describe('POST /v1/readings', () => {
  it('answers 200 only once the log acknowledged the record, which is then readable', async () => {
    const { gateway, producer, transport } = await start();
    const batch = { ...readings('phone-1', 100), labels: Array.from({ length: 50 }, () => 'WALKING') };
    producer.hold();
    let answered = false;
    const response = post(gateway, batch, { token: await token('phone-1') }).finally(() => {
      answered = true;
    });
    await waitFor(() => producer.waiting === 1, 'the publish to reach the producer');
    expect(answered).toBe(false);
    expect(await readAll(transport)).toHaveLength(0);
    producer.release();
    const { status, json } = await response;
    expect(status).toBe(200);
    expect(json).toEqual({ ok: true, device: 'phone-1', sequence: 100, samples: 50 });
    const [record, ...rest] = await readAll(transport);
    expect(rest).toHaveLength(0);
    expect(record.key).toBe('phone-1');
    expect(record.headers).toMatchObject({
      ce_id: 'phone-1:100',
      ce_subject: 'phone-1',
      ce_type: 'dev.activity-tracking.sensor-readings.v1',
      'content-type': 'application/json',
    });
    expect(decodeEvent(record.headers, record.value).data).toEqual(batch);
  });

  it('takes the compact binary encoding and publishes it as sent', async () => {
    const { gateway, transport } = await start();
    const batch = readings('phone-2', 0, 500);
    const { status } = await post(gateway, batch, { token: await token('phone-2'), binary: true });
    expect(status).toBe(200);
    const [record] = await readAll(transport);
    expect(record.headers['content-type']).toBe('application/vnd.activity-tracking.readings+binary');
    expect(record.value).toEqual(encodeReadingsBinary(batch, { precision: 64 }));
    expect(decodeEvent(record.headers, record.value).data).toEqual(batch);
  });

  it('refuses a missing, expired, forged or foreign token with 401', async () => {
    const { gateway, transport } = await start();
    const batch = readings('phone-1');
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('phone-1')
      .setAudience(TOKEN_AUDIENCE)
      .setExpirationTime(now + 3600)
      .sign(new TextEncoder().encode('another-secret-0123456789abcdef-0123'));
    const foreign = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('phone-1')
      .setAudience('some-other-service')
      .setExpirationTime(now + 3600)
      .sign(new TextEncoder().encode(SECRET));
    const cases: [string | undefined, string][] = [
      [undefined, 'missing_token'],
      [await token('phone-1', 60, now - 3600), 'token_expired'],
      [forged, 'invalid_token'],
      [foreign, 'invalid_token'],
      ['not.a.jwt', 'invalid_token'],
    ];
    for (const [t, error] of cases) {
      const res = await post(gateway, batch, t === undefined ? {} : { token: t });
      expect(res.status, error).toBe(401);
      expect(res.json.error).toBe(error);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    expect(await readAll(transport)).toHaveLength(0);
  });

  it('refuses readings from another device than the token names with 403', async () => {
    const { gateway, transport } = await start();
    for (const binary of [false, true]) {
      const res = await post(gateway, readings('phone-b'), { token: await token('phone-a'), binary });
      expect(res.status).toBe(403);
      expect(res.json).toMatchObject({ error: 'device_mismatch' });
    }
    expect(await readAll(transport)).toHaveLength(0);
  });

  it('refuses bad readings with 400, 413 and 415, and publishes none of them', async () => {
    const { gateway, transport } = await start({ maxBodyBytes: 4096 });
    const t = await token('phone-1');
    const fiveValues = { ...readings('phone-1'), samples: [[1, 2, 3, 4, 5]] };
    const labels = { ...readings('phone-1', 0, 2), labels: ['WALKING'] };
    const cases: [unknown, { contentType?: string; binary?: boolean }, number, Record<string, unknown>][] = [
      [fiveValues, {}, 400, { error: 'invalid_readings', reason: 'schema-violation' }],
      [JSON.stringify({ ...readings('phone-1'), extra: 1 }), {}, 400, { reason: 'schema-violation' }],
      [labels, {}, 400, { reason: 'length-mismatch' }],
      ['{"device":', {}, 400, { reason: 'not-json' }],
      [
        encodeReadingsBinary(readings('phone-1')).subarray(0, 100),
        { binary: true },
        400,
        { reason: 'malformed-binary' },
      ],
      [readings('phone-1', 0, 500), {}, 413, { error: 'body_too_large' }],
      [readings('phone-1'), { contentType: 'text/plain' }, 415, { error: 'unsupported_media_type' }],
      [readings('phone-1'), { contentType: 'application/json; charset=latin1' }, 415, {}],
    ];
    for (const [body, o, status, json] of cases) {
      const res = await post(gateway, body as string, { token: t, ...o });
      expect(res.status, JSON.stringify(json)).toBe(status);
      expect(res.json).toMatchObject(json);
      expect(typeof res.json.message).toBe('string');
    }
    const bad = await fetch(`${gateway.url}/v1/readings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t}`, 'idempotency-key': 'a b' },
      body: JSON.stringify(readings('phone-1')),
    });
    expect(bad.status).toBe(400);
    expect((await fetch(`${gateway.url}/v1/readings`)).status).toBe(405);
    expect((await fetch(`${gateway.url}/nope`)).status).toBe(404);
    expect(await readAll(transport)).toHaveLength(0);
  });

  it('answers 429 with Retry-After beyond the in-flight bound, and takes batches again once the log catches up', async () => {
    const { gateway, producer, transport } = await start({ maxInFlight: 2, idempotencyMaxEntries: 2 });
    const t = await token('phone-1');
    producer.hold();
    const first = [
      post(gateway, readings('phone-1', 0), { token: t }),
      post(gateway, readings('phone-1', 50), { token: t }),
    ];
    await waitFor(() => gateway.details().inFlight === 2, 'two batches in flight');
    const refused = await post(gateway, readings('phone-1', 100), { token: t });
    expect(refused.status).toBe(429);
    expect(refused.json.error).toBe('overloaded');
    expect(refused.headers.get('retry-after')).toBe('1');
    producer.release();
    expect((await Promise.all(first)).map((r) => r.status)).toEqual([200, 200]);
    expect((await post(gateway, readings('phone-1', 100), { token: t })).status).toBe(200);
    expect(await readAll(transport)).toHaveLength(3);
    expect(gateway.details()).toMatchObject({ inFlight: 0, inFlightBytes: 0 });
  });
});

describe('idempotent retries', () => {
  it('answers a retry of an acknowledged batch with the same ack, publishing once', async () => {
    const { gateway, producer, transport } = await start();
    const t = await token('phone-1');
    const a = await post(gateway, readings('phone-1'), { token: t, key: 'batch-1' });
    const b = await post(gateway, readings('phone-1'), { token: t, key: 'batch-1' });
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(b.json).toEqual(a.json);
    expect(a.json.idempotencyKey).toBe('batch-1');
    expect(a.headers.get('idempotent-replayed')).toBeNull();
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(producer.calls).toBe(1);
    expect(await readAll(transport)).toHaveLength(1);
    // Same key, other bytes: not a retry.
    const c = await post(gateway, readings('phone-1', 50), { token: t, key: 'batch-1' });
    expect(c.status).toBe(422);
    expect(c.json.error).toBe('idempotency_key_reused');
    // Keys are per device: another phone's batch-1 is its own.
    expect((await post(gateway, readings('phone-2'), { token: await token('phone-2'), key: 'batch-1' })).status).toBe(
      200,
    );
    expect(await readAll(transport)).toHaveLength(2);
  });

  it('makes a retry that arrives while the first attempt is in flight wait for it', async () => {
    const { gateway, producer, transport } = await start();
    const t = await token('phone-1');
    producer.hold();
    const first = post(gateway, readings('phone-1'), { token: t, key: 'k' });
    await waitFor(() => producer.waiting === 1, 'the first attempt to reach the producer');
    let retried = false;
    const retry = post(gateway, readings('phone-1'), { token: t, key: 'k' }).finally(() => {
      retried = true;
    });
    await waitFor(() => gateway.details().inFlight === 2, 'the retry to be admitted');
    expect(retried).toBe(false);
    producer.release();
    const [a, b] = await Promise.all([first, retry]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(b.json).toEqual(a.json);
    expect(producer.calls).toBe(1);
    expect(await readAll(transport)).toHaveLength(1);
  });

  it('lets a retry publish after the first attempt failed or timed out, without a duplicate', async () => {
    const { gateway, producer, transport } = await start({ publishTimeoutMs: 100 });
    const t = await token('phone-1');
    const inner = producer.inner.publish.bind(producer.inner);
    let failures = 1;
    producer.inner.publish = async (records) => {
      if (failures-- > 0) throw new TransportError('broker unreachable');
      return inner(records);
    };
    const failed = await post(gateway, readings('phone-1'), { token: t, key: 'k1' });
    expect(failed.status).toBe(503);
    expect(failed.json.error).toBe('publish_failed');
    expect(failed.headers.get('retry-after')).toBe('1');
    expect((await post(gateway, readings('phone-1'), { token: t, key: 'k1' })).status).toBe(200);
    expect(await readAll(transport)).toHaveLength(1);

    // A publish slower than publishTimeoutMs: 503 at once, and the retry waits on the same publish.
    producer.hold();
    const slow = await post(gateway, readings('phone-1', 50), { token: t, key: 'k2' });
    expect(slow.status).toBe(503);
    expect(slow.json.error).toBe('publish_timeout');
    const retry = post(gateway, readings('phone-1', 50), { token: t, key: 'k2' });
    await waitFor(() => gateway.details().inFlight === 2, 'the retry to wait on the first publish');
    producer.release();
    // The retry itself may time out too if the release came late; it never publishes a second copy.
    const answered = await retry;
    expect([200, 503]).toContain(answered.status);
    await waitFor(() => gateway.details().inFlight === 0, 'the publish to settle');
    expect((await post(gateway, readings('phone-1', 50), { token: t, key: 'k2' })).status).toBe(200);
    expect(await readAll(transport)).toHaveLength(2);
  });
});

describe('gateway options', () => {
  it('refuses to bind beyond loopback without the token secret, and a short secret anywhere', async () => {
    const producer = await new EmbeddedLog().producer();
    await expect(startGateway({ producer, host: '0.0.0.0' })).rejects.toThrow(/GATEWAY_TOKEN_SECRET/);
    await expect(startGateway({ producer, host: '0.0.0.0' })).rejects.toThrow(InvalidOptionError);
    await expect(startGateway({ producer, tokenSecret: 'short' })).rejects.toThrow(/at least 32 characters/);
    await expect(startGateway({ producer, maxInFlightBytes: 10, maxBodyBytes: 2048 })).rejects.toThrow(
      /raise maxInFlightBytes/,
    );
  });

  it('takes readings without a token on loopback when no secret is set', async () => {
    const { gateway, transport } = await start({ tokenSecret: undefined });
    expect((await post(gateway, readings('phone-9'))).status).toBe(200);
    expect(await readAll(transport)).toHaveLength(1);
  });
});
