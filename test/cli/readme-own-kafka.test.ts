import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import { namespacedTopics } from '../../src/topics.ts';
import { EmbeddedTrackingStore } from '../../src/tracking/embedded/store.ts';
import { CHAMPION } from '../../src/tracking/types.ts';
import { readTopic } from '../../src/transport/read.ts';
import { requireKafka, testKafka } from '../setup/services.ts';
import { cliEnv, collectOutput, runCli } from '../support/cli.ts';
import { waitFor } from '../support/wait.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/activity-tracking.js');
const CONSUMERS = new Set(['featurizer', 'detector', 'retrainer', 'deployer', 'predictor']);

/** The commands of the README's "own Kafka" section, as written: one argument list per `npx activity-tracking` line. */
function readmeCommands(): string[][] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Running on your own Kafka'));
  const block = /```bash\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('README: no bash block under "Running on your own Kafka"');
  return block
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l.startsWith('npx activity-tracking '))
    .map((l) => l.split(/\s+/).slice(2));
}

interface Consumer {
  name: string;
  child: ChildProcess;
  output: () => string;
  health: string;
  exit: Promise<number | null>;
}

const running: Consumer[] = [];
afterAll(() => {
  for (const c of running) c.child.kill('SIGKILL');
});

/**
 * issue 15: the README's "Running on your own Kafka" section, run as written against the real broker: each
 * consumer in its own process, started the way the README says a supervisor should (the bin, so that
 * SIGTERM reaches node), the one-shot commands to their end with exit 0, and every consumer stopped by
 * SIGTERM with exit 0. Two settings differ from the README, both through the environment the README
 * documents: `KAFKA_BROKERS` is the test broker, and `TOPIC_PREFIX` gives this run topics and groups of
 * its own on the shared broker. The drifted replay runs `--speed max` instead of 10: at 10 its two
 * loops over the sample's phones take over two minutes of wall time, and the speed changes nothing the
 * test asserts.
 */
describe("the README's own-Kafka section, one process per consumer (real broker)", () => {
  it('ends with drift events, a promoted version, a deployment and predictions; SIGTERM stops each with 0', {
    timeout: 300_000,
  }, async () => {
    const commands = readmeCommands();
    expect(commands.map((c) => c.find((a) => !a.startsWith('-')))).toEqual([
      'topics',
      'featurizer',
      'detector',
      'retrainer',
      'deployer',
      'predictor',
      'replay',
      'bootstrap',
      'replay',
    ]);
    const prefix = `readme-${randomUUID().slice(0, 8)}`;
    const topics = namespacedTopics(prefix);
    const trackingDir = mkdtempSync(path.join(tmpdir(), 'readme-tracking-'));
    const env = cliEnv({ KAFKA_BROKERS: requireKafka().join(','), TOPIC_PREFIX: prefix, TRACKING_DIR: trackingDir });

    const start = async (args: string[]): Promise<Consumer> => {
      const name = args.find((a) => CONSUMERS.has(a))!;
      const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const output = collectOutput(child);
      let code: number | null | undefined;
      const exit = new Promise<number | null>((resolve) => child.once('exit', resolve)).then((c) => (code = c));
      let health = '';
      await waitFor(
        () => {
          if (code !== undefined) throw new Error(`${name} exited with ${code}: ${output()}`);
          health = /"health":"(http:\/\/[^"]+)\/healthz"/.exec(output())?.[1] ?? '';
          return health !== '';
        },
        `${name} to serve /healthz`,
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      const consumer = { name, child, output, health, exit };
      running.push(consumer);
      return consumer;
    };
    const run = async (args: string[]) => {
      const r = await runCli(args, env, 180_000);
      expect(r.code, `activity-tracking ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`).toBe(0);
      return r;
    };
    const health = async (c: Consumer) =>
      (await (await fetch(`${c.health}/healthz`)).json()) as Record<string, unknown>;

    for (const args of commands) {
      if (args.some((a) => CONSUMERS.has(a))) await start(args);
      else if (args[0] === 'replay' && args.includes('--drift')) {
        const speed = args.indexOf('--speed');
        await run(args.map((a, i) => (i === speed + 1 ? 'max' : a)));
      } else await run(args);
    }

    const kafka = testKafka('readme-check');
    const store = new EmbeddedTrackingStore(trackingDir);
    try {
      const count = async (topic: string) => (await kafka.endOffsets(topic)).reduce((a, b) => a + b, 0);
      await waitFor(async () => (await count(topics.driftEvents)) > 0, 'drift events', { timeoutMs: 60_000 });
      const champion = await store.byAlias('activity-classifier', CHAMPION);
      expect(champion?.version).toBeGreaterThanOrEqual(1);
      await waitFor(
        async () => {
          for await (const r of readTopic(kafka, topics.deploymentEvents)) {
            const e = decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.deployment] });
            if (e.data.event === 'succeeded') return true;
          }
          return false;
        },
        'a deployment',
        { timeoutMs: 60_000 },
      );
      await waitFor(async () => (await count(topics.predictions)) > 0, 'predictions', { timeoutMs: 60_000 });
      // The retrainer answers the drift (trained, then promoted or not by its gate) before it is stopped:
      // a SIGTERM in the middle of a retraining would wait for it.
      const retrainer = running.find((c) => c.name === 'retrainer')!;
      await waitFor(async () => Number((await health(retrainer)).retrainings) >= 1, 'a retraining after the drift', {
        timeoutMs: 180_000,
        intervalMs: 500,
      }).catch((err: Error) => {
        throw new Error(`${err.message}; the retrainer printed:\n${retrainer.output()}`);
      });
    } finally {
      await kafka.close();
      await store.close();
    }

    for (const c of running) {
      const scraped = await (await fetch(`${c.health}/metrics`)).text();
      expect(scraped, c.name).toMatch(/^activity_records_in_total\{/m);
      expect((await health(c)).ok, c.name).toBe(true);
    }
    for (const c of running) c.child.kill('SIGTERM');
    for (const c of running.splice(0)) {
      expect(await c.exit, `${c.name}:\n${c.output()}`).toBe(0);
      expect(c.output(), c.name).toContain('stopping');
    }
  });
});
