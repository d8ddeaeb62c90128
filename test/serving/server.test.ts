import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactInvalidError, InvalidOptionError } from '../../src/errors.ts';
import { directoryModelSource } from '../../src/serving/model-source.ts';
import { type ServingServer, startServing } from '../../src/serving/server.ts';
import { readingsWindow, writeFeatureSetModel, writeTestModel } from './models.ts';

const KEY = 'test-key-0123456789abcdef';
let dir: string;
let open: ServingServer;
let keyed: ServingServer;
let featureSet: ServingServer | undefined;

/** A server of the featurizer's feature set, made once for the tests that send raw windows. */
async function featureSetServer(): Promise<ServingServer> {
  if (!featureSet) {
    await writeFeatureSetModel(dir, { name: 'har-fs', version: 2 });
    featureSet = await startServing({ source: directoryModelSource(dir), model: { name: 'har-fs', version: 2 } });
  }
  return featureSet;
}

const post = (s: ServingServer, body: string, headers: Record<string, string> = {}) =>
  fetch(`${s.url}/score`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'serving-'));
  await writeTestModel(dir, { name: 'har', version: 1 });
  open = await startServing({ source: directoryModelSource(dir), model: { name: 'har', version: 1 } });
  keyed = await startServing({
    source: directoryModelSource(dir),
    model: { name: 'har', version: 1 },
    apiKey: KEY,
    maxBodyBytes: 4096,
  });
});
afterAll(async () => {
  await open?.close();
  await keyed?.close();
  await featureSet?.close();
});

describe('serving', () => {
  it('scores one vector and a batch with the model version', async () => {
    const one = await post(open, JSON.stringify({ vector: [0, 0, 0, 0, 0, 0, 0, 0] }));
    expect(one.status).toBe(200);
    const a = (await one.json()) as { version: number; digest: string; predictions: { activity: string }[] };
    expect(a.version).toBe(1);
    expect(a.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(a.predictions.map((p) => p.activity)).toEqual(['SITTING']);
    const batch = await post(open, JSON.stringify({ vectors: [Array(8).fill(5), Array(8).fill(0.2)] }));
    const b = (await batch.json()) as { predictions: { activity: string; probabilities: Record<string, number> }[] };
    expect(b.predictions.map((p) => p.activity)).toEqual(['WALKING', 'SITTING']);
    expect(b.predictions[0].probabilities.WALKING).toBe(1);
  });

  it('answers health, readiness and metrics', async () => {
    expect((await fetch(`${open.url}/healthz`)).status).toBe(200);
    const ready = (await (await fetch(`${open.url}/readyz`)).json()) as { version: number };
    expect(ready.version).toBe(1);
    const metrics = await (await fetch(`${open.url}/metrics`)).text();
    expect(metrics).toMatch(/serving_predictions_total 3/);
  });

  it('refuses bad input with clear 4xx JSON errors', async () => {
    const cases: [string, number, string][] = [
      ['{nope', 400, 'invalid_json'],
      [JSON.stringify({ vector: ['a'] }), 400, 'schema_violation'],
      [JSON.stringify({ vector: [1, 2], vectors: [[1]] }), 400, 'schema_violation'],
      [JSON.stringify({ vector: [1, 2, 3] }), 400, 'wrong_dimensions'],
      [JSON.stringify({ other: 1 }), 400, 'schema_violation'],
    ];
    for (const [body, status, code] of cases) {
      const r = await post(open, body);
      expect(r.status, body).toBe(status);
      expect(((await r.json()) as { error: string }).error, body).toBe(code);
    }
    const wrongType = await fetch(`${open.url}/score`, { method: 'POST', body: '{}' });
    expect(wrongType.status).toBe(415);
    expect((await fetch(`${open.url}/score`)).status).toBe(405);
    expect((await fetch(`${open.url}/nothing`)).status).toBe(404);
  });

  it('limits the request size', async () => {
    const big = JSON.stringify({ vectors: Array.from({ length: 100 }, () => Array(8).fill(1.2345678)) });
    const r = await post(keyed, big, { 'x-api-key': KEY });
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: string }).error).toBe('body_too_large');
  });

  it('requires the API key when one is set', async () => {
    const body = JSON.stringify({ vector: Array(8).fill(0) });
    expect((await post(keyed, body)).status).toBe(401);
    expect((await post(keyed, body, { 'x-api-key': `${KEY}x` })).status).toBe(401);
    expect((await post(keyed, body, { 'x-api-key': KEY })).status).toBe(200);
    expect((await fetch(`${keyed.url}/readyz`)).status).toBe(200);
  });

  it("scores a window of raw readings with a model of the featurizer's feature set", async () => {
    await writeFeatureSetModel(dir, { name: 'har-fs', version: 1 });
    const fs = await startServing({ source: directoryModelSource(dir), model: { name: 'har-fs', version: 1 } });
    try {
      for (const walking of [true, false]) {
        const r = await post(fs, JSON.stringify({ readings: readingsWindow(walking, 99) }));
        expect(r.status).toBe(200);
        const body = (await r.json()) as { predictions: { activity: string }[] };
        expect(body.predictions[0].activity).toBe(walking ? 'WALKING' : 'SITTING');
      }
      const short = await post(fs, JSON.stringify({ readings: readingsWindow(true).slice(1) }));
      expect(((await short.json()) as { error: string }).error).toBe('schema_violation');
    } finally {
      await fs.close();
    }
    const mismatch = await post(open, JSON.stringify({ readings: readingsWindow(true) }));
    expect(mismatch.status).toBe(400);
    expect(((await mismatch.json()) as { error: string }).error).toBe('feature_set_mismatch');
  });

  it('refuses a window whose readings give non-finite features with a 400 that says so', async () => {
    const huge = readingsWindow(true).map((row, i) => row.map((_, j) => ((i + j) % 2 ? 1e308 : -1e308)));
    const r = await post(await featureSetServer(), JSON.stringify({ readings: huge }));
    const body = (await r.json()) as { error: string; message: string };
    expect(r.status).toBe(400);
    expect(body.error).toBe('invalid_readings');
    expect(body.message).toMatch(/non-finite feature .* is (NaN|-?Infinity)/);
  });

  it('names what is wrong for the form the client meant', async () => {
    const fs = await featureSetServer();
    const shapes: [unknown, RegExp][] = [
      [readingsWindow(true).map((row) => row.slice(1)), /^readings must be 128 rows of 6 numbers .*: readings\/0 /],
      [readingsWindow(true).slice(2), /^readings must be 128 rows of 6 numbers .*: readings must NOT have fewer/],
      ['x', /^readings must be 128 rows/],
    ];
    for (const [readings, message] of shapes) {
      const w = await post(fs, JSON.stringify({ readings }));
      const b = (await w.json()) as { error: string; message: string };
      expect(w.status).toBe(400);
      expect(b).toEqual({ error: 'schema_violation', message: expect.stringMatching(message) });
      expect(b.message).not.toMatch(/vector/);
    }
    const extra = await post(open, JSON.stringify({ vector: [1], model: 'x' }));
    expect(((await extra.json()) as { message: string }).message).toMatch(/unknown property 'model'/);
    const none = await post(open, JSON.stringify({ vektor: [1] }));
    expect(((await none.json()) as { message: string }).message).toMatch(
      /one of vector, vectors, readings; got vektor/,
    );
  });

  it('names the allowed method in a 405', async () => {
    const score = await fetch(`${open.url}/score`);
    expect(score.status).toBe(405);
    expect(score.headers.get('allow')).toBe('POST');
    for (const route of ['/healthz', '/readyz', '/metrics']) {
      const r = await fetch(`${open.url}${route}`, { method: 'POST', body: '{}' });
      expect(r.status, route).toBe(405);
      expect(r.headers.get('allow'), route).toBe('GET');
    }
  });

  it('takes application/json with parameters and refuses other media types', async () => {
    const body = JSON.stringify({ vector: Array(8).fill(0) });
    for (const type of [
      'application/json',
      'Application/JSON',
      'application/json; charset=utf-8',
      'application/json;charset="UTF-8"',
    ])
      expect((await post(open, body, { 'content-type': type })).status, type).toBe(200);
    for (const type of ['application/jsonx', 'application/json-seq', 'application/json; charset=latin1', 'text/json'])
      expect((await post(open, body, { 'content-type': type })).status, type).toBe(415);
  });

  it('refuses to bind beyond loopback without an API key', async () => {
    await expect(
      startServing({ source: directoryModelSource(dir), model: { name: 'har', version: 1 }, host: '0.0.0.0' }),
    ).rejects.toThrow(InvalidOptionError);
  });

  it('refuses an artifact whose digest does not match', async () => {
    await writeTestModel(dir, { name: 'har', version: 2 });
    await writeFile(path.join(dir, 'har', '2', 'digest'), `sha256:${'0'.repeat(64)}\n`);
    await expect(
      startServing({ source: directoryModelSource(dir), model: { name: 'har', version: 2 } }),
    ).rejects.toThrow(ArtifactInvalidError);
  });
});
