import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { STREAM_PROTOCOL } from '../../src/gateway/stream.ts';
import { encodeReadingsBinary } from '../../src/schemas/readings-binary.ts';
import { waitFor } from '../support/wait.ts';
import { closeSockets, openStream, readAll, readings, type TestGateway, testGateway, token } from './support.ts';

let current: TestGateway | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  closeSockets(sockets);
  await current?.close();
  current = undefined;
});

const open = (url: string, t: string) => openStream(url, t, sockets);

describe('WebSocket /v1/stream', () => {
  it('acks each message once the log has it, and publishes a resent message once', async () => {
    current = await testGateway();
    const { gateway, transport, producer } = current;
    const { ws, frames } = await open(gateway.url, await token('phone-ws'));
    expect(ws.protocol).toBe(STREAM_PROTOCOL);
    ws.send(JSON.stringify(readings('phone-ws', 0)));
    ws.send(encodeReadingsBinary(readings('phone-ws', 50)));
    await waitFor(() => frames.length === 2, 'two ack frames');
    expect(frames.sort((a, b) => Number(a.n) - Number(b.n))).toEqual([
      { n: 0, ok: true, device: 'phone-ws', sequence: 0, samples: 50 },
      { n: 1, ok: true, device: 'phone-ws', sequence: 50, samples: 50 },
    ]);
    expect(await readAll(transport)).toHaveLength(2);
    // A phone that reconnects and sends the unacknowledged again: deduplicated by device and sequence.
    ws.send(JSON.stringify(readings('phone-ws', 0)));
    ws.send(JSON.stringify(readings('phone-other', 100)));
    ws.send('{"device":');
    await waitFor(() => frames.length === 5, 'three more frames');
    expect(frames.slice(2).sort((a, b) => Number(a.n) - Number(b.n))).toMatchObject([
      { n: 2, ok: true, sequence: 0 },
      { n: 3, ok: false, error: 'device_mismatch' },
      { n: 4, ok: false, error: 'invalid_readings', reason: 'not-json' },
    ]);
    expect(producer.calls).toBe(2);
    expect(await readAll(transport)).toHaveLength(2);
  });

  it('refuses the upgrade without a valid token (401)', async () => {
    current = await testGateway();
    await expect(open(current.gateway.url, 'forged.token.value')).rejects.toThrow(/401/);
    const bare = new WebSocket(`${current.gateway.url.replace('http', 'ws')}/v1/stream`);
    sockets.push(bare);
    const status = await new Promise<number>((resolve) =>
      bare.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    );
    expect(status).toBe(401);
  });

  it('stops reading the socket at the in-flight bound instead of refusing, and catches up after', async () => {
    current = await testGateway({ maxInFlight: 2, idempotencyMaxEntries: 2, streamMaxInFlight: 2 });
    const { gateway, transport, producer } = current;
    const { ws, frames } = await open(gateway.url, await token('phone-bp'));
    producer.hold();
    for (let i = 0; i < 10; i++) ws.send(JSON.stringify(readings('phone-bp', i * 50)));
    await waitFor(() => gateway.details().inFlight === 2, 'the bound to be reached');
    expect(frames).toHaveLength(0);
    producer.release();
    await waitFor(() => frames.length === 10, 'ten ack frames');
    expect(frames.every((f) => f.ok === true)).toBe(true);
    expect(frames.map((f) => f.n).sort((a, b) => Number(a) - Number(b))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await readAll(transport)).toHaveLength(10);
  });
});
