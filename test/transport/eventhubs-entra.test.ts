import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventHubsPeer } from '../eventhubs/peer.ts';
import { selfSignedCert } from '../setup/tls.ts';

const CHILD = path.resolve(import.meta.dirname, '../eventhubs/entra-child.ts');
const TOKEN = 'entra-token-for-tests';

function client(port: number, token: string, certPath: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, `localhost:${port}`, 'readings', token], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: certPath },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.once('exit', () => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as Record<string, unknown>);
      else reject(new Error(`the client printed no result: ${out}`));
    });
  });
}

/**
 * issue 7: connection by namespace and a Microsoft Entra ID credential. The SDK then insists on TLS
 * (port 5671 unless given), so the peer serves AMQPS with a throwaway certificate, and checks that
 * the put-token carries the credential's token as a JWT.
 */
describe('Event Hubs with a Microsoft Entra ID credential', () => {
  const tls = selfSignedCert();
  const tokens: string[] = [];
  const peer = new EventHubsPeer({
    tls: { key: Buffer.from(tls.key), cert: Buffer.from(tls.cert) },
    authorize: (token, type) => {
      tokens.push(`${type}:${token}`);
      return type === 'jwt' && token === TOKEN;
    },
  });
  beforeAll(async () => {
    await peer.start();
    peer.createHub('readings', 1);
  });
  afterAll(async () => {
    await peer.stop();
  });

  it('publishes and reads back over TLS with the credential’s token', { timeout: 60_000 }, async () => {
    const result = await client(peer.port, TOKEN, tls.certPath);
    expect(result).toMatchObject({ ok: true, ends: [3], values: ['a', 'b', 'c'] });
    // The SDK asks for this scope (with its doubled slash) for any namespace.
    expect(result.scopes).toEqual(['https://eventhubs.azure.net//.default']);
    expect(tokens).toContain(`jwt:${TOKEN}`);
    expect(tokens.every((t) => t.startsWith('jwt:'))).toBe(true);
  });

  it('fails with a clear error when the service refuses the token', { timeout: 60_000 }, async () => {
    const result = await client(peer.port, 'a-token-the-service-refuses', tls.certPath);
    expect(result.ok).toBe(false);
    expect(String(result.error)).toMatch(/InvalidSignature: the token of type jwt is not valid/);
  });
});
