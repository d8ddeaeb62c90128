import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DashboardSnapshot } from '../../src/dashboard/state.ts';
import { encodeEvent, READINGS_BINARY_CONTENT_TYPE } from '../../src/schemas/cloudevents.ts';
import type { EventDataMap, EventType } from '../../src/schemas/registry.ts';
import { namespacedTopics, topicSpecs } from '../../src/topics.ts';
import { EXAMPLES } from '../schemas/examples.ts';
import { requireKafka, testKafka } from '../setup/services.ts';
import { cliEnv, collectOutput } from '../support/cli.ts';
import { dashboardSnapshot } from '../support/dashboard.ts';
import { waitFor } from '../support/wait.ts';

const BIN = path.resolve(import.meta.dirname, '../../bin/activity-tracking.js');

function record<T extends EventType>(topic: string, type: T, data: Partial<EventDataMap[T]>, binary = false) {
  const e = encodeEvent({
    type,
    source: 'test',
    data: { ...EXAMPLES[type], ...data } as EventDataMap[T],
    subject: (data as { device?: string }).device ?? 'user-01',
    ...(binary ? { contentType: READINGS_BINARY_CONTENT_TYPE } : {}),
  });
  return { topic, key: e.key ?? null, value: e.value, headers: e.headers };
}

describe('activity-tracking dashboard on the real Kafka broker', () => {
  it('shows the readings rate, a drift and its close by a calibration, then stops on SIGTERM', {
    timeout: 60_000,
  }, async () => {
    const brokers = requireKafka();
    const prefix = `dash-${randomUUID().slice(0, 8)}`;
    const topics = namespacedTopics(prefix);
    const transport = testKafka('dashboard-kafka-test');
    const producer = await (async () => {
      await transport.ensureTopics(topicSpecs(1, topics));
      return transport.producer();
    })();
    const device = `phone-${randomUUID().slice(0, 6)}`;
    const child = spawn(
      process.execPath,
      [BIN, '--transport', 'kafka', 'dashboard', '--port', '0', '--metrics-port', '0'],
      { env: cliEnv({ KAFKA_BROKERS: brokers.join(','), TOPIC_PREFIX: prefix }), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output = collectOutput(child);
    const exited = new Promise<number | null>((r) => child.once('close', r));
    try {
      // A drift from before the dashboard started: read from the topic's beginning.
      await producer.publish([
        record(topics.driftEvents, 'dev.activity-tracking.drift.v1', { device, time: Date.now() }),
      ]);
      let url = '';
      await waitFor(
        () => {
          url = /"url":"(http:\/\/127\.0\.0\.1:\d+)".*dashboard listening/.exec(output())?.[1] ?? '';
          return url !== '';
        },
        'the dashboard to listen',
        { timeoutMs: 30_000, intervalMs: 100 },
      ).catch((err: Error) => {
        throw new Error(`${err.message}; it printed:\n${output()}`);
      });
      const row = (s: DashboardSnapshot) => s.devices.find((d) => d.device === device);
      // Readings are followed from the end, as a phone streams: publish until the dashboard counts them.
      let snapshot: DashboardSnapshot | undefined;
      await waitFor(
        async () => {
          await producer.publish([
            record(topics.sensorReadings, 'dev.activity-tracking.sensor-readings.v1', { device }, true),
          ]);
          snapshot = await dashboardSnapshot(url);
          return (row(snapshot)?.samplesPerSecond ?? 0) > 0 && snapshot.drifts.some((d) => d.device === device);
        },
        'the dashboard to show the readings and the drift',
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      expect(row(snapshot!)).toMatchObject({ openDrift: true, lastCalibration: null });
      await producer.publish([
        record(topics.sensorReadings, 'dev.activity-tracking.device-calibration.v1', { device, id: `${device}:1` }),
      ]);
      await waitFor(
        async () => row(await dashboardSnapshot(url))?.openDrift === false,
        'a calibration of the device to close its drift',
        { timeoutMs: 15_000, intervalMs: 100 },
      );
      child.kill('SIGTERM');
      expect(await exited, output()).toBe(0);
    } finally {
      child.kill('SIGKILL');
      await producer.close();
      await transport.close();
    }
  });
});
