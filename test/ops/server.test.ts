import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.ts';
import { PipelineMetrics } from '../../src/metrics/metrics.ts';
import { startOpsServer } from '../../src/ops/server.ts';

describe('operations endpoint', () => {
  it('serves Prometheus metrics and health', async () => {
    const metrics = new PipelineMetrics();
    metrics.recordsIn.inc({ component: 'drift-detector', topic: 'features' }, 7);
    let ok = true;
    let ready: boolean | undefined;
    const server = await startOpsServer({ metrics, health: () => ({ ok, ready, details: { lag: 3 } }) });
    try {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      expect(text).toMatch(/activity_records_in_total\{component="drift-detector",topic="features"\} 7/);
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ ok: true, ready: true, lag: 3 });
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      // Alive and not ready yet (a consumer waiting for its topics): /healthz 200, /readyz 503.
      ready = false;
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const notReady = await fetch(`${server.url}/readyz`);
      expect(notReady.status).toBe(503);
      expect(await notReady.json()).toEqual({ ok: true, ready: false, lag: 3 });
      ok = false;
      ready = true;
      expect((await fetch(`${server.url}/healthz`)).status).toBe(503);
      expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
      expect((await fetch(`${server.url}/nope`)).status).toBe(404);
      expect((await fetch(`${server.url}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      await server.close();
    }
  });

  it('refuses to bind beyond loopback without an API key, and checks the key when it has one', async () => {
    const key = 's3cret-s3cret-s3cret';
    // The message names the setting that exists (ACTIVITY_API_KEY), not a flag that does not.
    await expect(
      startOpsServer({ metrics: new PipelineMetrics(), health: () => ({ ok: true }), host: '0.0.0.0' }),
    ).rejects.toThrow(/ACTIVITY_API_KEY/);
    await expect(
      startOpsServer({ metrics: new PipelineMetrics(), health: () => ({ ok: true }), host: '0.0.0.0' }),
    ).rejects.not.toThrow(/--api-key/);
    // A key anyone can guess is refused, beyond loopback or not.
    for (const host of ['0.0.0.0', '127.0.0.1'])
      await expect(
        startOpsServer({ metrics: new PipelineMetrics(), health: () => ({ ok: true }), host, apiKey: 'k' }),
      ).rejects.toThrow(/ACTIVITY_API_KEY must be at least 16 characters/);
    await expect(
      startOpsServer({ metrics: new PipelineMetrics(), health: () => ({ ok: true }), apiKey: 'x'.repeat(15) }),
    ).rejects.toThrow(InvalidOptionError);
    const server = await startOpsServer({
      metrics: new PipelineMetrics(),
      health: () => ({ ok: true }),
      apiKey: key,
    });
    try {
      expect((await fetch(`${server.url}/healthz`)).status).toBe(401);
      expect((await fetch(`${server.url}/healthz`, { headers: { 'x-api-key': 'wrong!' } })).status).toBe(401);
      expect((await fetch(`${server.url}/healthz`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
