import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalTarget } from '../../src/deploy/local.ts';
import { DeploymentError } from '../../src/errors.ts';
import { writeTestModel } from '../serving/models.ts';

let target: LocalTarget | undefined;
afterAll(async () => target?.close());

const score = async (endpoint: string) => {
  const r = await fetch(`${endpoint}/score`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ vector: Array(8).fill(0) }),
  });
  return (await r.json()) as { version: number; predictions: { activity: string }[] };
};

describe('local deploy target', () => {
  it('switches to a ready version, stops the old one, keeps the old one when the new fails', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'deploy-local-'));
    await writeTestModel(dir, { name: 'har', version: 1 });
    await writeTestModel(dir, { name: 'har', version: 2 }, { flip: true });
    await writeTestModel(dir, { name: 'har', version: 3 });
    await writeFile(path.join(dir, 'har', '3', 'digest'), `sha256:${'1'.repeat(64)}\n`);
    target = new LocalTarget({ modelDir: dir });

    const d1 = await target.deploy({ name: 'har', version: 1 });
    expect((await score(d1.endpoint)).version).toBe(1);
    const d2 = await target.deploy({ name: 'har', version: 2 });
    expect(d2.endpoint).not.toBe(d1.endpoint);
    expect((await score(d2.endpoint)).version).toBe(2);
    await expect(fetch(`${d1.endpoint}/readyz`)).rejects.toThrow();

    const failed = await target.deploy({ name: 'har', version: 3 }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(DeploymentError);
    expect((failed as DeploymentError).context).toMatchObject({ rolledBack: true, keptVersion: 2 });
    expect(target.current()?.model.version).toBe(2);
    expect((await score(d2.endpoint)).version).toBe(2);
  }, 60_000);
});
