import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { runUntilStopped } from '../../src/cli/service-run.ts';
import { createLogger } from '../../src/log/logger.ts';
import { PipelineMetrics } from '../../src/metrics/metrics.ts';
import { testKafka } from '../setup/services.ts';
import { waitFor } from '../support/wait.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function logSink() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ destination: sink as never, name: 'consumer' }), lines };
}

async function get(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/**
 * A consumer started before `topics create` (issue 15): it says once which topic is missing and what
 * makes it, answers /healthz (alive, not ready) meanwhile, and starts once the topics exist.
 */
describe('a consumer whose topics do not exist yet (real broker)', () => {
  it('waits with health served, says so once, and starts when the topics appear', { timeout: 30_000 }, async () => {
    const transport = testKafka('service-run');
    cleanups.push(() => transport.close());
    const admin = testKafka('service-run-admin');
    cleanups.push(() => admin.close());
    const topics = [`wait-a-${randomUUID()}`, `wait-b-${randomUUID()}`];
    const { logger, lines } = logSink();
    const stop = new AbortController();
    cleanups.push(async () => stop.abort());
    let urls: { health: string; ready: string; metrics: string } | undefined;
    let started = 0;
    let stopped = 0;
    const run = runUntilStopped({
      name: 'consumer',
      transport,
      logger,
      metrics: new PipelineMetrics(),
      topics,
      start: async () => {
        started++;
        return {
          stop: async () => {
            stopped++;
          },
          details: () => ({ partitions: [] }),
        };
      },
      signal: stop.signal,
      ops: { port: 0, host: '127.0.0.1' },
      onListening: (u) => {
        urls = u;
      },
      topicPollMs: 100,
    });
    const waiting = () => lines.filter((l) => l.level === 40 && Array.isArray(l.missing));
    await waitFor(() => waiting().length > 0, 'the wait to be logged', { timeoutMs: 15_000 });
    if (!urls) throw new Error('no operations URLs');
    expect(waiting()[0]).toMatchObject({ missing: topics, transport: 'kafka', health: urls.health });
    expect(waiting()[0].msg).toMatch(
      new RegExp(
        `topics "${topics[0]}" and 1 more do not exist yet: create them with \`activity-tracking topics create\``,
      ),
    );
    expect(await get(urls.health)).toEqual({
      status: 200,
      body: { ok: true, ready: false, component: 'consumer', transport: 'kafka', waitingForTopics: topics },
    });
    expect((await get(urls.ready)).status).toBe(503);
    expect(await (await fetch(urls.metrics)).text()).toContain('activity_records_in_total');

    await admin.ensureTopics([{ topic: topics[0], partitions: 1 }]);
    await waitFor(
      async () => JSON.stringify((await get(urls!.health)).body.waitingForTopics) === JSON.stringify([topics[1]]),
      'only the second topic to be missing',
      { timeoutMs: 10_000 },
    );
    await admin.ensureTopics([{ topic: topics[1], partitions: 1 }]);
    await waitFor(async () => (await get(urls!.ready)).status === 200, '/readyz to say ready', { timeoutMs: 10_000 });
    expect(started).toBe(1);
    expect((await get(urls.health)).body).toMatchObject({ ok: true, ready: true, partitions: [] });
    // Once, not once per look: the reminder comes once a minute.
    expect(waiting()).toHaveLength(1);
    expect(lines.some((l) => (l.level as number) >= 50 || 'kafkajs' in l)).toBe(false);

    stop.abort();
    await run;
    expect(stopped).toBe(1);
    await expect(fetch(urls.health)).rejects.toThrow();
  });

  it('stops on the signal while it still waits, without starting', { timeout: 30_000 }, async () => {
    const transport = testKafka('service-run-stop');
    const { logger, lines } = logSink();
    const stop = new AbortController();
    let started = false;
    const run = runUntilStopped({
      name: 'consumer',
      transport,
      logger,
      metrics: new PipelineMetrics(),
      topics: [`never-${randomUUID()}`],
      start: async () => {
        started = true;
        return { stop: async () => {}, details: () => ({}) };
      },
      signal: stop.signal,
      ops: { port: 0, host: '127.0.0.1' },
    });
    await waitFor(() => lines.some((l) => Array.isArray(l.missing)), 'the wait to be logged', { timeoutMs: 15_000 });
    stop.abort();
    await run;
    expect(started).toBe(false);
  });
});
