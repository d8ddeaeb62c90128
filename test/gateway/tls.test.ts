import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { InvalidOptionError } from '../../src/errors.ts';
import { resolveGatewayOptions } from '../../src/gateway/options.ts';
import { decodeEvent } from '../../src/schemas/cloudevents.ts';
import { selfSignedCert } from '../setup/tls.ts';
import { runInProcess } from '../support/cli.ts';
import { waitFor } from '../support/wait.ts';
import {
  closeSockets,
  openStream,
  postHttps,
  readAll,
  readings,
  SECRET,
  type TestGateway,
  testGateway,
  token,
} from './support.ts';

// Made by openssl for this run (test/setup/tls.ts, as the Kafka and Azure suites do): nothing secret
// is committed, and the certificate never expires under a long-lived checkout.
const pair = selfSignedCert();
const other = selfSignedCert();
const dir = mkdtempSync(path.join(tmpdir(), 'gateway-tls-'));
const certFile = path.join(dir, 'cert.pem');
const keyFile = path.join(dir, 'key.pem');
writeFileSync(certFile, pair.cert);
writeFileSync(keyFile, pair.key);

let current: TestGateway | undefined;
const sockets: WebSocket[] = [];
beforeAll(async () => {
  current = await testGateway({ tls: { cert: pair.cert, key: pair.key } });
});
afterEach(() => closeSockets(sockets));
afterAll(async () => {
  await current?.close();
});

describe('gateway over TLS', () => {
  it('takes a batch over HTTPS and publishes it', async () => {
    const { gateway, transport } = current!;
    expect(gateway.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(gateway.details()).toMatchObject({ tls: true, tokens: true });
    const batch = readings('phone-tls', 0);
    const res = await postHttps(gateway.url, batch, await token('phone-tls'), pair.cert);
    expect(res).toEqual({ status: 200, json: { ok: true, device: 'phone-tls', sequence: 0, samples: 50 } });
    const records = (await readAll(transport)).filter((r) => r.key === 'phone-tls');
    expect(records.map((r) => decodeEvent(r.headers, r.value).data)).toEqual([batch]);
  });

  it('streams over WSS, one ack per message', async () => {
    const { gateway, transport } = current!;
    const { ws, frames } = await openStream(gateway.url, await token('phone-wss'), sockets, '', { ca: pair.cert });
    expect(ws.url).toMatch(/^wss:/);
    ws.send(JSON.stringify(readings('phone-wss', 0)));
    ws.send(JSON.stringify(readings('phone-wss', 50)));
    await waitFor(() => frames.length === 2, 'two ack frames over WSS');
    expect(frames.map((f) => f.ok)).toEqual([true, true]);
    expect((await readAll(transport)).filter((r) => r.key === 'phone-wss')).toHaveLength(2);
  });

  it('refuses plain HTTP and an untrusted certificate on the TLS port, publishing nothing', async () => {
    const { gateway, transport } = current!;
    const before = (await readAll(transport)).length;
    const plain = gateway.url.replace('https:', 'http:');
    await expect(
      fetch(`${plain}/v1/readings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await token('phone-plain')}` },
        body: JSON.stringify(readings('phone-plain', 0)),
      }),
    ).rejects.toThrow();
    // The default trust store does not know the test certificate: the client, not the gateway, refuses.
    await expect(fetch(`${gateway.url}/v1/readings`, { method: 'POST', body: '{}' })).rejects.toThrow();
    await expect(
      openStream(plain, await token('phone-plain'), sockets).then(({ ws }) => ws.readyState),
    ).rejects.toThrow();
    expect(await readAll(transport)).toHaveLength(before);
  });

  it('refuses half a pair or a key of another certificate at start, saying what to give', () => {
    const producer = { publish: async () => {}, close: async () => {} };
    expect(() => resolveGatewayOptions({ producer, tls: { cert: pair.cert, key: '' } })).toThrow(
      /both a certificate and its private key; the key is missing/,
    );
    const mismatch = () => resolveGatewayOptions({ producer, tls: { cert: pair.cert, key: other.key } });
    expect(mismatch).toThrow(InvalidOptionError);
    expect(mismatch).toThrow(/not a usable PEM pair/);
    expect(() => resolveGatewayOptions({ producer, tls: { cert: 'not a pem', key: pair.key } })).toThrow(
      /not a usable PEM pair/,
    );
  });

  it('`gateway` refuses one TLS file without the other and an unreadable file (exit 78), before any broker', async () => {
    const half = await runInProcess(['gateway', '--tls-cert', certFile], { GATEWAY_TOKEN_SECRET: SECRET });
    expect(half.code).toBe(78);
    expect(half.stderr).toMatch(/both --tls-cert \(env GATEWAY_TLS_CERT\) and --tls-key.*only --tls-cert is set/);
    const fromEnv = await runInProcess(['gateway'], { GATEWAY_TLS_KEY: keyFile });
    expect(fromEnv.code).toBe(78);
    expect(fromEnv.stderr).toMatch(/only --tls-key is set/);
    const missing = path.join(dir, 'absent.pem');
    const unreadable = await runInProcess(['gateway', '--tls-cert', missing, '--tls-key', keyFile]);
    expect(unreadable.code).toBe(78);
    expect(unreadable.stderr).toContain(`--tls-cert (env GATEWAY_TLS_CERT): cannot read ${missing} (ENOENT)`);
    expect(unreadable.stderr).not.toContain('PRIVATE KEY');
  });
});
