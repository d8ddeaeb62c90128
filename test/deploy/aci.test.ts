import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AciTarget } from '../../src/deploy/aci.ts';
import { DeploymentError, InvalidOptionError } from '../../src/errors.ts';
import { writeTestModel } from '../serving/models.ts';
import { selfSignedCert } from '../setup/tls.ts';
import { FakeArm } from './fake-arm.ts';

const TOKEN = 'fixed-test-token';
const KEY = 'aci-test-key-0123456789';
const PORT = 29310;
// The token credential is the auth boundary: a fixed token, the SDK's bearer policy and pipeline run for real.
const credential = { getToken: async () => ({ token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }) };

let arm: FakeArm;
let tls: { key: string; cert: string };
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'aci-'));
  await writeTestModel(dir, { name: 'har', version: 1 });
  await writeTestModel(dir, { name: 'har', version: 2 });
  await writeTestModel(dir, { name: 'har', version: 3 });
  await writeFile(path.join(dir, 'har', '3', 'digest'), `sha256:${'3'.repeat(64)}\n`);
  tls = selfSignedCert();
});
afterAll(async () => arm?.close());

function target(image = 'acr.example.io/serving:1', extra: Partial<ConstructorParameters<typeof AciTarget>[0]> = {}) {
  return new AciTarget({
    subscriptionId: 'sub',
    resourceGroup: 'rg',
    location: 'westeurope',
    image,
    registry: { server: 'acr.example.io', username: 'pull', password: 'registry-password' },
    apiKey: KEY,
    port: PORT,
    cpu: 1,
    memoryInGB: 1.5,
    credential,
    endpoint: arm.url,
    tlsCa: tls.cert,
    pollIntervalMs: 50,
    readyTimeoutMs: 3000,
    ...extra,
  });
}

describe('ACI deploy target through the real SDK against a local ARM', () => {
  it('creates the group, health-checks it, deletes the previous one; rolls back on a failing version', async () => {
    arm = new FakeArm({ token: TOKEN, modelDir: dir, failImage: 'acr.example.io/broken:1', throttleFirstPut: true });
    await arm.start(tls);
    const t = target();

    const d1 = await t.deploy({ name: 'har', version: 1 });
    expect(d1.id).toBe('activity-serving-har-v1');
    expect(d1.endpoint).toBe(`http://127.0.0.2:${PORT}`);
    const puts = arm.requests.filter((r) => r.method === 'PUT');
    expect(puts.length).toBe(2); // the 429 and its retry after Retry-After
    expect(puts[1].url).toBe(
      '/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/activity-serving-har-v1',
    );
    expect(puts[1].body).toEqual({
      location: 'westeurope',
      tags: { 'activity-tracking/model': 'har', 'activity-tracking/version': '1' },
      properties: {
        osType: 'Linux',
        restartPolicy: 'Always',
        containers: [
          {
            name: 'serving',
            properties: {
              image: 'acr.example.io/serving:1',
              resources: { requests: { cpu: 1, memoryInGB: 1.5 } },
              ports: [{ port: PORT, protocol: 'TCP' }],
              environmentVariables: [
                { name: 'MODEL_NAME', value: 'har' },
                { name: 'MODEL_VERSION', value: '1' },
                { name: 'SERVING_PORT', value: String(PORT) },
                { name: 'SERVING_API_KEY', secureValue: KEY },
              ],
            },
          },
        ],
        ipAddress: {
          type: 'Public',
          ports: [{ port: PORT, protocol: 'TCP' }],
          dnsNameLabel: 'activity-serving-har-v1',
        },
        imageRegistryCredentials: [{ server: 'acr.example.io', username: 'pull', password: 'registry-password' }],
      },
    });
    const scored = await fetch(`${d1.endpoint}/score`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY },
      body: JSON.stringify({ vector: Array(8).fill(0) }),
    });
    expect(((await scored.json()) as { version: number }).version).toBe(1);

    const d2 = await t.deploy({ name: 'har', version: 2 });
    expect(t.current()?.model.version).toBe(2);
    expect([...arm.groups.keys()]).toEqual(['activity-serving-har-v2']);
    expect(arm.requests.some((r) => r.method === 'DELETE' && r.url.endsWith('/activity-serving-har-v1'))).toBe(true);

    // Provisions but never becomes ready (its artifact fails its digest): deleted, v2 keeps serving.
    const e3 = await t.deploy({ name: 'har', version: 3 }).catch((e: unknown) => e);
    expect(e3).toBeInstanceOf(DeploymentError);
    expect((e3 as DeploymentError).context).toMatchObject({ rolledBack: true, keptVersion: 2 });
    expect([...arm.groups.keys()]).toEqual(['activity-serving-har-v2']);
    expect((await fetch(`${d2.endpoint}/readyz`)).status).toBe(200);

    // Provisioning fails (image not pullable): the SDK's LRO reports it, v2 keeps serving.
    const broken = target('acr.example.io/broken:1');
    broken.adopt(t.current()!);
    const e4 = await broken.deploy({ name: 'har', version: 4 }).catch((e: unknown) => e);
    expect(e4).toBeInstanceOf(DeploymentError);
    expect((e4 as Error).message).toMatch(/image could not be pulled|Failed/i);
    expect(broken.current()?.model.version).toBe(2);
    expect([...arm.groups.keys()]).toEqual(['activity-serving-har-v2']);
  }, 60_000);

  it('sends secrets in the environment as secureValue, never as a readable value', () => {
    const t = target('img', {
      env: {
        MLFLOW_TRACKING_URI: 'https://user:pw-secret@mlflow.example.io',
        MLFLOW_TRACKING_PASSWORD: 'pw-secret',
        MLFLOW_TRACKING_TOKEN: 'tok-secret',
        LOG_LEVEL: 'info',
        TRACKING_URI_PLAIN: 'https://mlflow.example.io',
      },
    });
    const vars = t.containerGroup({ name: 'har', version: 1 }).containers[0].environmentVariables!;
    const byName = Object.fromEntries(vars.map((v) => [v.name, v]));
    for (const name of [
      'MLFLOW_TRACKING_URI',
      'MLFLOW_TRACKING_PASSWORD',
      'MLFLOW_TRACKING_TOKEN',
      'SERVING_API_KEY',
    ]) {
      expect(byName[name].secureValue, name).toBeDefined();
      expect(byName[name].value, name).toBeUndefined();
    }
    expect(byName.LOG_LEVEL).toEqual({ name: 'LOG_LEVEL', value: 'info' });
    expect(byName.TRACKING_URI_PLAIN.value).toBe('https://mlflow.example.io');
    expect(JSON.stringify(vars.filter((v) => v.value !== undefined))).not.toContain('secret');
  });

  it('validates its options at the door', () => {
    expect(() => target('img', { apiKey: 'short' })).toThrow(InvalidOptionError);
    expect(() => target('img', { registry: { server: 'acr.example.io' } })).toThrow(/ACR_USERNAME/);
  });
});
