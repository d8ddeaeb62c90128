import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Featurizer } from '../../src/features/index.ts';
import { servingImageForSuite } from '../setup/image.ts';
import { waitFor } from '../support/wait.ts';
import { readingsWindow, writeFeatureSetModel } from './models.ts';

/**
 * The serving image as users run it (STYLE habit 13): built by scripts/services/image.sh, started with a model folder mounted, scored over the published port, stopped with SIGTERM.
 */
const run = promisify(execFile);
const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/services/image.sh');
// Built while the file is collected, beside the other suites (test/setup/sequencer.ts starts this file
// first): a cold build takes minutes, and in the global set-up every suite would wait for it.
const { image, reason } = await servingImageForSuite();

const KEY = 'image-test-key-0123456789abcdef';
// Ports 28080–28099 are this project's for containers: below Linux's ephemeral range (32768–60999), so no
// client connection or port-0 server of a suite running beside this one can hold them (38080 once was).
const PORT = { good: 28080, badDigest: 28081, noKey: 28082 };
let models: string;

/** `image.sh <command>` for the container on `port`; resolves with its output whatever its exit code. */
async function script(command: string, port: number, env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run('bash', [SCRIPT, command], {
      env: { ...process.env, IMAGE: image, IMAGE_PORT: String(port), IMAGE_MODEL_DIR: models, ...env },
      timeout: 180_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr || e.message };
  }
}

const url = (path: string) => `http://127.0.0.1:${PORT.good}${path}`;
const score = (body: unknown, key?: string) =>
  fetch(url('/score'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
    body: JSON.stringify(body),
  });

describe.skipIf(!image)(`serving image ${image ?? `(skipped: ${reason})`}`, () => {
  beforeAll(async () => {
    models = await mkdtemp(path.join(tmpdir(), 'image-models-'));
    // The container runs as user node (1000): the mounted folder must be readable by others.
    await chmod(models, 0o755);
    await writeFeatureSetModel(models, { name: 'har-fs', version: 1 });
    // Version 2: version 1's artifact with a digest that is not its own.
    await mkdir(path.join(models, 'har-fs', '2'));
    await copyFile(path.join(models, 'har-fs', '1', 'model.json'), path.join(models, 'har-fs', '2', 'model.json'));
    await writeFile(path.join(models, 'har-fs', '2', 'digest'), `sha256:${'1'.repeat(64)}\n`);
    const started = await script('run', PORT.good, {
      MODEL_NAME: 'har-fs',
      MODEL_VERSION: '1',
      SERVING_API_KEY: KEY,
    });
    expect(started.code, started.stderr).toBe(0);
  });
  afterAll(async () => {
    for (const port of Object.values(PORT)) await script('stop', port);
    if (models) await rm(models, { recursive: true, force: true });
  });

  it('gets ready with the mounted version and passes its HEALTHCHECK', async () => {
    let ready: Response | undefined;
    await waitFor(
      async () => {
        ready = await fetch(url('/readyz')).catch(() => undefined);
        return ready?.status === 200;
      },
      'the container to answer /readyz',
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    expect(await ready?.json()).toMatchObject({
      model: 'har-fs',
      version: 1,
      digest: expect.stringMatching(/^sha256:/),
    });
    expect((await script('health', PORT.good)).code).toBe(0);
  });

  it('needs the API key beyond loopback: 401 without it or with a wrong one', async () => {
    const window = { readings: readingsWindow(true, 7) };
    for (const key of [undefined, 'wrong-key-0123456789abcdef']) {
      const r = await score(window, key);
      expect(r.status).toBe(401);
      expect(((await r.json()) as { error: string }).error).toBe('unauthorized');
    }
  });

  it('scores a feature vector and a raw window', async () => {
    const vector = Array.from(new Featurizer().push(readingsWindow(true, 41).flat())[0].features);
    const byVector = await score({ vector }, KEY);
    expect(byVector.status).toBe(200);
    expect(await byVector.json()).toMatchObject({
      model: 'har-fs',
      version: 1,
      predictions: [{ activity: 'WALKING' }],
    });
    const byWindow = await score({ readings: readingsWindow(false, 43) }, KEY);
    expect(byWindow.status).toBe(200);
    expect(await byWindow.json()).toMatchObject({ version: 1, predictions: [{ activity: 'SITTING' }] });
  });

  it('refuses to start without an API key, bound to 0.0.0.0', async () => {
    const r = await script('run', PORT.noKey, { MODEL_NAME: 'har-fs', MODEL_VERSION: '1', SERVING_API_KEY: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('exited with code 1 before it was ready');
    expect(r.stderr).toContain('needs an API key');
  });

  it('refuses a version whose artifact does not match its digest', async () => {
    const r = await script('run', PORT.badDigest, { MODEL_NAME: 'har-fs', MODEL_VERSION: '2', SERVING_API_KEY: KEY });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('exited with code 1 before it was ready');
    expect(r.stderr).toMatch(/"ready":false,"error":"model artifact digest sha256:[0-9a-f]{64} does not match/);
    expect((await script('status', PORT.badDigest)).code).not.toBe(0);
  });

  it('stops on SIGTERM within seconds, exit code 0', async () => {
    // The stop timeout is 10 s: a server that ignored SIGTERM would be killed after it (exit 137).
    const stopped = await script('stop', PORT.good, { IMAGE_STOP_TIMEOUT: '10' });
    expect(stopped.code, stopped.stderr).toBe(0);
    const [, ms, code] = /in (\d+) ms, exit code (\d+)/.exec(stopped.stdout) ?? [];
    expect([0, 143]).toContain(Number(code));
    expect(Number(ms)).toBeLessThan(5000);
    await expect(fetch(url('/healthz'))).rejects.toThrow();
    expect((await script('status', PORT.good)).code).not.toBe(0);
  });
});
