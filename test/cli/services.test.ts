import { spawn } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { topicSpecs } from '../../src/topics.ts';
import { KafkaTransport } from '../../src/transport/kafka/kafka-transport.ts';
import { requireKafka } from '../setup/services.ts';

const BIN = path.resolve(import.meta.dirname, '../../bin/activity-tracking.js');

/**
 * Each consumer runs on its own (`activity-tracking detector`, ...): it serves /healthz and
 * /metrics, and SIGTERM stops it cleanly with exit code 0.
 */
describe('consumer subcommands on the real broker', () => {
  beforeAll(async () => {
    const transport = new KafkaTransport({
      brokers: requireKafka(),
      clientId: 'cli-test',
      ssl: false,
      replicationFactor: -1,
      connectionTimeoutMs: 10_000,
    });
    await transport.ensureTopics(topicSpecs(3));
    await transport.close();
  }, 60_000);

  it.each(['featurizer', 'detector', 'predictor', 'retrainer', 'deployer'])(
    '%s runs, reports health, and stops cleanly on SIGTERM',
    { timeout: 90_000 },
    async (name) => {
      const brokers = requireKafka();
      const child = spawn(
        process.execPath,
        [BIN, '--transport', 'kafka', name, '--group', `cli-${name}-${Date.now()}`],
        {
          env: {
            ...process.env,
            KAFKA_BROKERS: brokers.join(','),
            TRACKING_DIR: path.join('/tmp', `cli-tracking-${process.pid}`),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        out += c.toString();
      });
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setInterval(() => {
          const m = /"health":"(http:\/\/[^"]+)\/healthz"/.exec(out);
          if (m) {
            clearInterval(timer);
            resolve(m[1]);
          }
        }, 100);
        child.once('exit', (code) => {
          clearInterval(timer);
          reject(new Error(`${name} exited with ${code}: ${out}`));
        });
      });
      const health = await (await fetch(`${url}/healthz`)).json();
      expect(health).toMatchObject({ ok: true, transport: 'kafka' });
      expect(await (await fetch(`${url}/metrics`)).text()).toContain('activity_records_in_total');
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code, out).toBe(0);
      expect(out).toContain('stopping');
    },
  );
});
