import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { topicSpecs } from '../../src/topics.ts';
import { EmbeddedTrackingStore } from '../../src/tracking/embedded/store.ts';
import { usePeer } from '../eventhubs/harness.ts';
import { requireAzurite, requireKafka, testKafka } from '../setup/services.ts';
import { waitFor } from '../support/wait.ts';

const eventHubs = usePeer();

const BIN = path.resolve(import.meta.dirname, '../../bin/activity-tracking.js');

/** Spawns the CLI with these arguments and extra environment, collecting stdout and stderr together. */
function startCli(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const collect = (c: Buffer) => {
    out += c.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  return { child, output: () => out };
}

/** Starts `activity-tracking <name>` and checks /healthz, /metrics and a clean SIGTERM stop. */
async function runsAndStops(name: string, transport: string, env: NodeJS.ProcessEnv): Promise<void> {
  const { child, output } = startCli(['--transport', transport, name, '--group', `cli-${name}-${Date.now()}`], {
    TRACKING_DIR: path.join('/tmp', `cli-tracking-${process.pid}`),
    ...env,
  });
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolve) => child.once('exit', resolve)).then((code) => (exited = code));
  let url = '';
  await waitFor(
    () => {
      if (exited !== undefined) throw new Error(`${name} exited with ${exited}: ${output()}`);
      url = /"health":"(http:\/\/[^"]+)\/healthz"/.exec(output())?.[1] ?? '';
      return url !== '';
    },
    `${name} to serve /healthz`,
    { timeoutMs: 60_000, intervalMs: 100 },
  ).catch((err: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${err.message}; it printed:\n${output()}`);
  });
  const health = await (await fetch(`${url}/healthz`)).json();
  expect(health).toMatchObject({ ok: true, transport });
  const scraped = await (await fetch(`${url}/metrics`)).text();
  expect(scraped).toContain('activity_records_in_total');
  // The retrainer is given the process's metrics (issue 15): its calibration counter is there from the start.
  if (name === 'retrainer') expect(scraped).toMatch(/^activity_calibrations_total\{component="retrainer"\} 0$/m);
  child.kill('SIGTERM');
  await waitFor(() => exited !== undefined, `${name} to stop on SIGTERM`, { timeoutMs: 25_000 }).catch((err: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${err.message}; it printed:\n${output()}`);
  });
  const code = await exit;
  expect(code, output()).toBe(0);
  expect(output()).toContain('stopping');
}

const CONSUMERS = ['featurizer', 'detector', 'predictor', 'retrainer', 'deployer'];

// On Kafka, test/cli/readme-own-kafka.test.ts runs every consumer as the README says, through a whole loop.

/** The same subcommands on Event Hubs, configured only through the environment the README documents. */
describe('consumer subcommands on Event Hubs (local peer, Azurite checkpoints)', () => {
  beforeAll(async () => {
    const transport = await eventHubs.transport();
    await transport.ensureTopics(topicSpecs(3));
    await transport.close();
  }, 60_000);

  it.each(CONSUMERS)('%s runs, reports health, and stops cleanly on SIGTERM', { timeout: 90_000 }, (name) =>
    runsAndStops(name, 'eventhubs', {
      EVENTHUBS_CONNECTION_STRING: eventHubs.peer.connectionString(),
      EVENTHUBS_CHECKPOINT_CONNECTION_STRING: requireAzurite(),
      EVENTHUBS_CHECKPOINT_CONTAINER: 'cli-test',
    }),
  );
});

describe('CLI tools', () => {
  beforeAll(async () => {
    const transport = testKafka('cli-tools');
    await transport.ensureTopics(topicSpecs(3));
    await transport.close();
  }, 60_000);

  const run = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const cli = startCli(args, env);
      cli.child.once('exit', (code) => resolve({ code, out: cli.output() }));
    });

  it('models lists versions with their aliases; a bad option exits with the config code', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cli-models-'));
    const store = new EmbeddedTrackingStore(dir);
    await store.ensureModel('m');
    const { runId } = await store.startRun(await store.experiment('e'));
    const ref = await store.logArtifact(runId, 'model.json', Buffer.from('{}'));
    await store.createVersion('m', { runId, artifactPath: 'model.json', artifactDigest: ref.digest });
    await store.setAlias('m', 'champion', 1);
    const r = await run(['models', '--model', 'm'], { TRACKING_DIR: dir, MLFLOW_TRACKING_URI: '' });
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^v1\tchampion\t/m);
    const bad = await run(['run', '--speed', '0']);
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/--speed .*must be a positive number/);
    const onEventHubs = await run(['--transport', 'eventhubs', 'run']);
    expect(onEventHubs.code).toBe(78);
    expect(onEventHubs.out).toMatch(/on Event Hubs run each consumer/);
  });

  it('promote rolls the champion back to an earlier version and tells the deployer', { timeout: 60_000 }, async () => {
    const brokers = requireKafka();
    const dir = mkdtempSync(path.join(tmpdir(), 'cli-promote-'));
    const store = new EmbeddedTrackingStore(dir);
    const model = `m${Date.now().toString(36)}`;
    await store.ensureModel(model);
    const { runId } = await store.startRun(await store.experiment('e'));
    const ref = await store.logArtifact(runId, 'model.json', Buffer.from('{}'));
    for (let i = 0; i < 2; i++)
      await store.createVersion(model, { runId, artifactPath: 'model.json', artifactDigest: ref.digest });
    await store.setAlias(model, 'champion', 2);
    const transport = testKafka('cli-promote', brokers);
    const before = (await transport.endOffsets('model-events'))[0] ?? 0;
    const r = await run(['--transport', 'kafka', 'promote', '--model', model, '--version', '1'], {
      KAFKA_BROKERS: brokers.join(','),
      TRACKING_DIR: dir,
      MLFLOW_TRACKING_URI: '',
    });
    expect(r.code, r.out).toBe(0);
    expect((await store.byAlias(model, 'champion'))?.version).toBe(1);
    const [event] = await transport.readRange('model-events', 0, before, before);
    await transport.close();
    expect(JSON.parse(event.value.toString())).toMatchObject({
      event: 'promoted',
      model,
      version: 1,
      reason: 'promoted by hand (was v2)',
    });
  });
});
