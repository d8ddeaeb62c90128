import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard } from '../../src/dashboard/server.ts';
import { DashboardState } from '../../src/dashboard/state.ts';
import { InvalidOptionError } from '../../src/errors.ts';
import { type DecodedEvent, decodeEvent, encodeEvent } from '../../src/schemas/cloudevents.ts';
import type { EventDataMap, EventType } from '../../src/schemas/registry.ts';
import { TOPICS, topicSpecs } from '../../src/topics.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import { EXAMPLES } from '../schemas/examples.ts';
import { useChromium } from '../setup/chromium.ts';
import { waitFor } from '../support/wait.ts';

const T0 = 1_700_000_000_000;
const MIN = 60_000;

function event<T extends EventType>(type: T, data: Partial<EventDataMap[T]>): DecodedEvent {
  const encoded = encodeEvent({ type, source: 'test', data: { ...EXAMPLES[type], ...data } as EventDataMap[T] });
  return decodeEvent(encoded.headers, encoded.value);
}

function prediction(device: string, version: number, hit: boolean) {
  return event('dev.activity-tracking.prediction.v1', {
    device,
    version,
    activity: 'WALKING',
    label: hit ? 'WALKING' : 'SITTING',
  });
}

describe('DashboardState', () => {
  it('folds predictions, drifts, model and deployment events and dead letters', () => {
    const s = new DashboardState({ openDriftMs: 10 * MIN, maxDrifts: 3, accuracyWindow: 10 });
    s.apply(event('dev.activity-tracking.deployment.v1', { version: 4 }), T0);
    // Version 4: 10 labelled, then 10 more of which 5 hit: the rolling window holds the last 10 only.
    for (let i = 0; i < 10; i++) s.apply(prediction('user-01', 4, true), T0 + i);
    for (let i = 0; i < 10; i++) s.apply(prediction('user-02', 4, i % 2 === 0), T0 + 10 + i);
    s.apply(event('dev.activity-tracking.prediction.v1', { device: 'user-03', label: null }), T0 + 30);
    for (let i = 0; i < 5; i++)
      s.apply(event('dev.activity-tracking.drift.v1', { device: 'user-01', time: T0 + MIN + i }), T0 + MIN + i);
    s.apply(event('dev.activity-tracking.model.v1', { event: 'registered', version: 5 }), T0 + 2 * MIN);
    s.apply(
      event('dev.activity-tracking.model.v1', { event: 'rejected', version: 5, reason: 'no better' }),
      T0 + 2 * MIN + 1,
    );
    s.apply(event('dev.activity-tracking.dead-letter.v1', {}), T0);
    s.apply(event('dev.activity-tracking.dead-letter.v1', {}), T0 + 1);
    s.undecodable('not-json', 'predictions:0:7: value is not JSON', T0 + 2);

    const snap = s.snapshot(T0 + 3 * MIN);
    expect(snap.records).toBe(21 + 5 + 2 + 1 + 2 + 1);
    expect(snap.devices.map((d) => [d.device, d.openDrift, d.activity])).toEqual([
      ['user-01', true, 'WALKING'],
      ['user-02', false, 'WALKING'],
      ['user-03', false, 'WALKING'],
    ]);
    expect(snap.drifts).toHaveLength(3);
    expect(snap.drifts[0].time).toBe(T0 + MIN + 4);
    expect(snap.accuracy).toEqual([
      expect.objectContaining({ model: 'activity-knn', version: 4, accuracy: 0.5, labelled: 20 }),
    ]);
    // One point per labelled prediction at this window: the last 10 outcomes, brute force.
    const outcomes = [...Array(10).fill(1), ...Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? 1 : 0))];
    const brute = outcomes.map((_, i) => {
      const last = outcomes.slice(Math.max(0, i - 9), i + 1);
      return last.reduce((a, b) => a + b, 0) / last.length;
    });
    expect(snap.accuracy[0].points.map((p) => p.accuracy)).toEqual(brute);
    expect(snap.versions).toEqual([
      expect.objectContaining({ version: 5, event: 'rejected', reason: 'no better', candidate: 0.91, link: null }),
    ]);
    expect(snap.deadLetters).toEqual([expect.objectContaining({ reason: 'not-json', count: 3 })]);

    // Closed by time, and by a deployment after the drift.
    expect(s.snapshot(T0 + 12 * MIN).devices[0].openDrift).toBe(false);
    s.apply(event('dev.activity-tracking.deployment.v1', { version: 6 }), T0 + 2 * MIN);
    expect(s.snapshot(T0 + 3 * MIN).devices[0].openDrift).toBe(false);
  });

  it('links versions to MLflow without the credentials of the tracking URI', () => {
    const s = new DashboardState({ mlflowUri: 'https://me:secret@mlflow.example/' });
    s.apply(event('dev.activity-tracking.model.v1', {}), T0);
    expect(s.snapshot(T0).versions[0].link).toBe('https://mlflow.example/#/models/activity-knn/versions/4');
  });
});

describe('dashboard server', () => {
  let log: EmbeddedLog;
  let dashboard: Dashboard | undefined;
  beforeAll(async () => {
    log = new EmbeddedLog();
    await log.ensureTopics(topicSpecs(2));
  });
  afterEach(async () => {
    await dashboard?.close();
    dashboard = undefined;
  });
  afterAll(async () => {
    await log.close();
  });

  it('refuses to bind beyond loopback without an API key, and asks for the key on / and /events with one', async () => {
    await expect(startDashboard({ transport: log, host: '0.0.0.0' })).rejects.toThrow(InvalidOptionError);
    await expect(startDashboard({ transport: log, host: '0.0.0.0', apiKey: 'short' })).rejects.toThrow(/16/);
    const apiKey = randomUUID();
    dashboard = await startDashboard({ transport: log, host: '0.0.0.0', apiKey, groupId: randomUUID() });
    const base = dashboard.url.replace('0.0.0.0', '127.0.0.1');
    for (const p of ['/', '/events']) expect((await fetch(`${base}${p}`)).status).toBe(401);
    expect((await fetch(`${base}/`, { headers: { 'x-api-key': 'wrong-key-of-some-length' } })).status).toBe(401);
    const page = await fetch(`${base}/`, { headers: { 'x-api-key': apiKey } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('data-section="drifts"');
    const stream = new AbortController();
    const events = await fetch(`${base}/events`, {
      headers: { authorization: `Bearer ${apiKey}` },
      signal: stream.signal,
    });
    expect(events.status).toBe(200);
    expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/);
    stream.abort();
    await events.body?.cancel().catch(() => undefined);
  });

  describe('in a real browser (headless Chromium)', () => {
    const browser = useChromium();

    it('shows history, then a new drift and a newly promoted version without a reload', async () => {
      const producer = await log.producer();
      const publish = async (topic: string, type: EventType, data: object) => {
        const e = encodeEvent({ type, source: 'test', data: { ...EXAMPLES[type], ...data } as never });
        await producer.publish([{ topic, key: e.key ?? null, value: e.value, headers: e.headers }]);
      };
      // History from before the page opened.
      for (let i = 0; i < 40; i++)
        await publish(TOPICS.predictions, 'dev.activity-tracking.prediction.v1', {
          device: `user-0${1 + (i % 3)}`,
          label: i % 4 === 0 ? 'SITTING' : 'WALKING',
        });
      await publish(TOPICS.deploymentEvents, 'dev.activity-tracking.deployment.v1', {});
      await publish(TOPICS.modelEvents, 'dev.activity-tracking.model.v1', {});
      await publish(TOPICS.deadLetter, 'dev.activity-tracking.dead-letter.v1', {});
      await producer.publish([{ topic: TOPICS.deadLetter, key: null, value: Buffer.from('{'), headers: {} }]);

      dashboard = await startDashboard({
        transport: log,
        groupId: randomUUID(),
        pushIntervalMs: 50,
        state: { mlflowUri: 'http://127.0.0.1:5000' },
      });
      const page = await browser().newPage({ viewport: { width: 1300, height: 1000 } });
      const failed: string[] = [];
      page.on('requestfailed', (r) => {
        if (!r.url().endsWith('/events')) failed.push(r.url());
      });
      await page.goto(`${dashboard.url}/`);
      await page.locator('[data-status="live"]').waitFor();
      await page.locator('tr[data-device="user-03"]').waitFor();
      await page.locator('tr[data-version="4"][data-event="promoted"] a[data-mlflow]').waitFor();
      expect(await page.locator('tr[data-accuracy-version="4"]').textContent()).toContain('40');
      expect(await page.locator('tr[data-reason="missing-attribute"]').getAttribute('data-count')).toBe('1');
      expect(await page.locator('tr[data-reason="not-json"]').getAttribute('data-count')).toBe('1');
      expect(await page.locator('[data-drift]').count()).toBe(0);

      const reloads: string[] = [];
      page.on('framenavigated', (f) => reloads.push(f.url()));
      await publish(TOPICS.driftEvents, 'dev.activity-tracking.drift.v1', {
        device: 'user-02',
        feature: 'tGravityAcc-mean-X',
        time: Date.now(),
      });
      await publish(TOPICS.modelEvents, 'dev.activity-tracking.model.v1', {
        version: 5,
        runId: 'run-new',
        scores: { metric: 'accuracy', candidate: 0.95, production: 0.9 },
      });
      // Readings are followed from the dashboard's start on: a phone streaming now.
      const readings = encodeEvent({
        type: 'dev.activity-tracking.sensor-readings.v1',
        source: 'test',
        subject: 'user-01',
        data: { ...EXAMPLES['dev.activity-tracking.sensor-readings.v1'], device: 'user-01' },
      });
      await producer.publish([
        { topic: TOPICS.sensorReadings, key: 'user-01', value: readings.value, headers: readings.headers },
      ]);
      await waitFor(
        async () =>
          (await page.locator('li[data-drift][data-device="user-02"][data-feature="tGravityAcc-mean-X"]').count()) ===
            1 &&
          (await page.locator('tr[data-version="5"][data-event="promoted"]').count()) === 1 &&
          Number(await page.locator('tr[data-device="user-01"] td[data-rate]').getAttribute('data-rate')) > 0,
        'the page to show the new drift, version 5 and the samples/s of user-01',
      );
      expect(await page.locator('svg[data-chart="drift-timeline"] circle.drift-marker').count()).toBe(1);
      expect(await page.locator('tr[data-device="user-02"]').getAttribute('data-open-drift')).toBe('true');
      expect(reloads).toEqual([]);
      expect(failed).toEqual([]);

      // A test artifact beside the services' data (git-ignored), kept after the run.
      const artifacts = path.resolve(import.meta.dirname, '../../.data/test-artifacts');
      mkdirSync(artifacts, { recursive: true });
      const shot = path.join(artifacts, 'dashboard.png');
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`dashboard screenshot: ${shot}`);
      await page.close();
      await producer.close();
    }, 60_000);
  });
});
