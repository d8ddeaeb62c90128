import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ContainerTarget, containerOptionsFromEnv } from '../../src/deploy/container.ts';
import { DeploymentError, InvalidOptionError } from '../../src/errors.ts';
import { EmbeddedTrackingStore } from '../../src/tracking/embedded/store.ts';
import { writeTestModel } from '../serving/models.ts';
import { servingImageForSuite } from '../setup/image.ts';

/**
 * The container deploy target on the serving image as users run it (STYLE habit 13): the same switch and rollback
 * as test/deploy/local.test.ts, each version a podman (or docker) container started through scripts/services/image.sh.
 */
const run = promisify(execFile);
const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/services/image.sh');
// Built while the file is collected, like test/serving/image.test.ts (and after it: image.sh builds one at a time).
const { image, reason } = await servingImageForSuite();

// Ports 28100–28119 are this project's for deployed containers, below the ephemeral range (32768–60999).
const PORTS = [28100, 28119] as const;
// Containers of this run only: the image suite may run its own on the same engine meanwhile.
const PREFIX = `ctarget-${randomUUID().slice(0, 8)}`;

let target: ContainerTarget | undefined;
let models: string | undefined;
afterAll(async () => {
  await target?.close();
  if (models) await rm(models, { recursive: true, force: true });
});

/** Names of this run's containers, running or not, seen by the engine on image.sh's state (`image.sh env`). */
async function ourContainers(): Promise<string[]> {
  const { stdout: exports } = await run('bash', [SCRIPT, 'env']);
  const env = Object.fromEntries([...exports.matchAll(/([A-Z_]+)='([^']*)'/g)].map((m) => [m[1], m[2]]));
  const { stdout } = await run(env.IMAGE_ENGINE, ['ps', '-a', '--format', '{{.Names}}'], {
    env: { ...process.env, ...env },
  });
  return stdout.split('\n').filter((n) => n.startsWith(PREFIX));
}

const score = async (endpoint: string, key?: string) => {
  const r = await fetch(`${endpoint}/score`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
    body: JSON.stringify({ vector: Array(8).fill(0) }),
  });
  return {
    status: r.status,
    body: (await r.json()) as { version: number; digest: string; predictions: { activity: string }[] },
  };
};

describe('container deploy target options', () => {
  it('refuses what cannot work, saying what to set', () => {
    expect(() => new ContainerTarget({})).toThrow(InvalidOptionError);
    expect(() => new ContainerTarget({ modelDir: '/m', ports: [28119, 28100] })).toThrow(/low to high/);
    expect(() => new ContainerTarget({ modelDir: '/m', apiKey: 'short' })).toThrow(/at least 16/);
    expect(() => new ContainerTarget({ modelDir: '/m', readyTimeoutMs: 0 })).toThrow(/readyTimeoutMs/);
    expect(() => new ContainerTarget({ modelDir: '/m', engine: 'lxc' as never })).toThrow(/podman or docker/);
    expect(() => new ContainerTarget({ modelDir: '/m', script: '/nowhere/image.sh' })).toThrow(/not there/);
    expect(new ContainerTarget({ modelDir: '/m' }).apiKey.length).toBeGreaterThanOrEqual(16);
  });

  it('reads image.sh IMAGE and IMAGE_ENGINE, DEPLOY_PORTS and SERVING_API_KEY from the environment', () => {
    const env = {
      IMAGE: 'img:1',
      IMAGE_ENGINE: 'podman',
      DEPLOY_PORTS: '28100-28101',
      SERVING_API_KEY: 'k'.repeat(16),
    };
    expect(containerOptionsFromEnv(env)).toEqual({
      image: 'img:1',
      engine: 'podman',
      ports: [28100, 28101],
      apiKey: 'k'.repeat(16),
    });
    expect(containerOptionsFromEnv({})).toEqual({});
    expect(() => containerOptionsFromEnv({ DEPLOY_PORTS: '28100' })).toThrow(/<from>-<to>/);
  });
});

describe.skipIf(!image)(`container deploy target on ${image ?? `(skipped: ${reason})`}`, () => {
  it('switches to a ready version, removes the old container, keeps the old one when the new fails', async () => {
    models = await mkdtemp(path.join(tmpdir(), 'deploy-container-'));
    await writeTestModel(models, { name: 'har', version: 1 });
    await writeTestModel(models, { name: 'har', version: 2 }, { flip: true });
    await writeTestModel(models, { name: 'har', version: 3 });
    await writeFile(path.join(models, 'har', '3', 'digest'), `sha256:${'1'.repeat(64)}\n`);
    target = new ContainerTarget({ modelDir: models, image, ports: PORTS, namePrefix: PREFIX, readyTimeoutMs: 90_000 });
    const key = target.apiKey;

    const d1 = await target.deploy({ name: 'har', version: 1 });
    expect(d1.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:281(0\d|1\d)$/);
    expect((await score(d1.endpoint, key)).body.version).toBe(1);
    // The container binds 0.0.0.0 inside: the key is required even through the loopback port.
    expect((await score(d1.endpoint)).status).toBe(401);

    const d2 = await target.deploy({ name: 'har', version: 2 });
    expect(d2.endpoint).not.toBe(d1.endpoint);
    expect((await score(d2.endpoint, key)).body.version).toBe(2);
    await expect(fetch(`${d1.endpoint}/readyz`)).rejects.toThrow();
    expect(await ourContainers()).toEqual([d2.id]);

    const failed = await target.deploy({ name: 'har', version: 3 }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(DeploymentError);
    expect((failed as DeploymentError).message).toMatch(/digest sha256:[0-9a-f]{64} does not match/);
    expect((failed as DeploymentError).context).toMatchObject({ rolledBack: true, keptVersion: 2 });
    expect(target.current()).toEqual(d2);
    expect((await score(d2.endpoint, key)).body.version).toBe(2);
    expect(await ourContainers()).toEqual([d2.id]);

    await target.close();
    expect(target.current()).toBeNull();
    expect(await ourContainers()).toEqual([]);
    await expect(fetch(`${d2.endpoint}/readyz`)).rejects.toThrow();
  }, 300_000);

  it('exports a version from the registry, as the deployer service does', async () => {
    const scratch = await mkdtemp(path.join(tmpdir(), 'deploy-container-registry-'));
    try {
      const { bytes } = await writeTestModel(path.join(scratch, 'models'), { name: 'har', version: 1 }, { flip: true });
      const store = new EmbeddedTrackingStore(path.join(scratch, 'tracking'));
      await store.ensureModel('har');
      const { runId } = await store.startRun(await store.experiment('e'));
      const ref = await store.logArtifact(runId, 'model.json', bytes);
      await store.createVersion('har', { runId, artifactPath: 'model.json', artifactDigest: ref.digest });
      const fromRegistry = new ContainerTarget({ registry: store, image, ports: PORTS, namePrefix: PREFIX });
      try {
        const d = await fromRegistry.deploy({ name: 'har', version: 1 });
        expect((await score(d.endpoint, fromRegistry.apiKey)).body).toMatchObject({
          version: 1,
          digest: ref.digest,
          predictions: [{ activity: 'WALKING' }],
        });
      } finally {
        await fromRegistry.close();
      }
      expect(await ourContainers()).toEqual([]);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }, 120_000);
});
