import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { decodeEvent } from '../../src/schemas/cloudevents.ts';
import { namespace } from '../../src/topics.ts';
import { usePeer } from '../eventhubs/harness.ts';
import { requireAzurite } from '../setup/services.ts';
import { selfSignedCert } from '../setup/tls.ts';
import { cliEnv, collectOutput } from '../support/cli.ts';
import { waitFor } from '../support/wait.ts';
import {
  closeSockets,
  openStream,
  post,
  postHttps,
  readAll,
  readings,
  SECRET,
  type TestGateway,
  testGateway,
  token,
} from './support.ts';

const BIN = path.resolve(import.meta.dirname, '../../bin/activity-tracking.js');
const eventHubs = usePeer();

let current: TestGateway | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  closeSockets(sockets);
  await current?.close();
  current = undefined;
});

/** A gateway on the Event Hubs transport (the real SDK against the local AMQP peer), on a hub of its own. */
async function onEventHubs(): Promise<TestGateway & { topic: string }> {
  const topic = `gw-${randomUUID()}.sensor-readings`;
  current = await testGateway({}, await eventHubs.transport(), topic);
  return { ...current, topic };
}

const decoded = (records: Awaited<ReturnType<typeof readAll>>) => records.map((r) => decodeEvent(r.headers, r.value));

describe('gateway on Event Hubs (SDK against the local AMQP peer)', () => {
  it('takes a token-signed batch once the hub has it, publishes a retry once, refuses a device sending as another', async () => {
    const { gateway, transport, producer, topic } = await onEventHubs();
    const t = await token('phone-eh');
    const sent = [readings('phone-eh', 0), readings('phone-eh', 50)];
    for (const [i, batch] of sent.entries()) {
      const res = await post(gateway, batch, { token: t, key: `eh-${i}`, binary: i === 1 });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({
        ok: true,
        device: 'phone-eh',
        sequence: batch.sequence,
        idempotencyKey: `eh-${i}`,
      });
      // Read at once, with no wait: the 200 came after the service accepted the events.
      expect(await readAll(transport, topic)).toHaveLength(i + 1);
    }
    const records = await readAll(transport, topic);
    expect(decoded(records).map((e) => e.data)).toEqual(sent);
    expect(decoded(records).map((e) => e.attributes.source)).toEqual(Array(2).fill('activity-tracking/gateway'));
    // Keyed by device: the service's partition-key hash puts one phone's batches in one partition, in order.
    expect(records.map((r) => r.key)).toEqual(['phone-eh', 'phone-eh']);
    expect(new Set(records.map((r) => r.partition)).size).toBe(1);

    // A retry after the 200 (the phone never saw it) is answered from the window, not published.
    const calls = producer.calls;
    const retry = await post(gateway, sent[0], { token: t, key: 'eh-0' });
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    // A retry while the first attempt is still on its way to the service waits on that publish.
    producer.hold();
    const first = post(gateway, readings('phone-eh', 100), { token: t, key: 'eh-2' });
    await waitFor(() => producer.waiting === 1, 'the publish to be held');
    const second = post(gateway, readings('phone-eh', 100), { token: t, key: 'eh-2' });
    producer.release();
    expect([(await first).status, (await second).status]).toEqual([200, 200]);
    expect(producer.calls).toBe(calls + 1);

    const foreign = await post(gateway, readings('phone-other', 0), { token: t, key: 'eh-3' });
    expect(foreign.status).toBe(403);
    expect(foreign.json).toMatchObject({ error: 'device_mismatch' });
    expect((await post(gateway, readings('phone-eh', 150))).status).toBe(401);
    expect(decoded(await readAll(transport, topic)).map((e) => (e.data as { sequence: number }).sequence)).toEqual([
      0, 50, 100,
    ]);
    const stored = [0, 1, 2].map((p) => eventHubs.peer.events(topic, p).length);
    expect(stored.reduce((a, b) => a + b, 0)).toBe(3);
  });

  it('streams to the hub over a WebSocket, one ack per event stored, a resent message once', async () => {
    const { gateway, transport, topic } = await onEventHubs();
    const { frames, ws } = await openStream(gateway.url, await token('phone-ws'), sockets);
    ws.send(JSON.stringify(readings('phone-ws', 0)));
    ws.send(JSON.stringify(readings('phone-ws', 50)));
    await waitFor(() => frames.length === 2, 'two ack frames');
    expect(frames.map((f) => f.ok)).toEqual([true, true]);
    expect(await readAll(transport, topic)).toHaveLength(2);
    ws.send(JSON.stringify(readings('phone-ws', 0)));
    ws.send(JSON.stringify(readings('phone-else', 0)));
    await waitFor(() => frames.length === 4, 'two more frames');
    expect(frames.slice(2).sort((a, b) => Number(a.n) - Number(b.n))).toMatchObject([
      { n: 2, ok: true, sequence: 0 },
      { n: 3, ok: false, error: 'device_mismatch' },
    ]);
    expect(await readAll(transport, topic)).toHaveLength(2);
  });

  it('runs as `activity-tracking --transport eventhubs gateway` over TLS, configured from the environment', async () => {
    const prefix = `gwcli-${randomUUID()}`;
    const topics = namespace(prefix).topics;
    const topic = topics.sensorReadings;
    // Every service waits for the pipeline's topics before it starts, the gateway too.
    for (const hub of Object.values(topics)) eventHubs.peer.createHub(hub, 3);
    const pair = selfSignedCert();
    const dir = mkdtempSync(path.join(tmpdir(), 'gateway-eh-tls-'));
    writeFileSync(path.join(dir, 'cert.pem'), pair.cert);
    writeFileSync(path.join(dir, 'key.pem'), pair.key);
    const child = spawn(process.execPath, [BIN, 'gateway', '--port', '0'], {
      env: cliEnv({
        TRANSPORT: 'eventhubs',
        TOPIC_PREFIX: prefix,
        EVENTHUBS_CONNECTION_STRING: eventHubs.peer.connectionString(),
        EVENTHUBS_CHECKPOINT_CONNECTION_STRING: requireAzurite(),
        GATEWAY_TOKEN_SECRET: SECRET,
        GATEWAY_TLS_CERT: path.join(dir, 'cert.pem'),
        GATEWAY_TLS_KEY: path.join(dir, 'key.pem'),
        LOG_LEVEL: 'info',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = collectOutput(child);
    let exited: number | null | undefined;
    child.once('exit', (code) => {
      exited = code;
    });
    try {
      let url = '';
      await waitFor(() => {
        if (exited !== undefined) throw new Error(`gateway exited with ${exited}: ${output()}`);
        url = /"url":"(https:[^"]+)","topic"/.exec(output())?.[1] ?? '';
        return url !== '';
      }, 'the gateway to listen on https').catch((err: Error) => {
        throw new Error(`${err.message}; it printed:\n${output()}`);
      });
      const batch = readings('cli-eh', 0);
      const res = await postHttps(url, batch, await token('cli-eh'), pair.cert);
      expect(res.status, output()).toBe(200);
      const events = [0, 1, 2].flatMap((p) => eventHubs.peer.events(topic, p));
      expect(events).toHaveLength(1);
      child.kill('SIGTERM');
      await waitFor(() => exited !== undefined, 'the gateway to stop on SIGTERM');
      expect(exited, output()).toBe(0);
      expect(output()).not.toContain(SECRET);
      expect(output()).not.toContain('PRIVATE KEY');
    } finally {
      if (exited === undefined) child.kill('SIGKILL');
    }
  });
});
