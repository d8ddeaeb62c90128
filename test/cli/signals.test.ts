import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { beforeAll, describe, it } from 'vitest';
import { TOPICS, topicSpecs } from '../../src/topics.ts';
import { requireKafka, testKafka } from '../setup/services.ts';
import { cliEnv, collectOutput } from '../support/cli.ts';
import { alive, processTree } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/activity-tracking.js');

/** The environment of a user's shell with the brokers exported (README), without npm's own variables. */
function userEnv(): NodeJS.ProcessEnv {
  const env = cliEnv({ KAFKA_BROKERS: requireKafka().join(',') });
  for (const name of Object.keys(env)) if (name.startsWith('npm_')) delete env[name];
  return env;
}

/**
 * A group for the featurizer that starts at the end of sensor-readings: the shared test broker holds
 * other suites' readings, and a stop is what is under test here, not a backlog.
 */
async function groupAtEnd(name: string): Promise<string> {
  const groupId = `${name}-${randomUUID()}`;
  const transport = testKafka('cli-signals-offsets');
  const ends = await transport.endOffsets(TOPICS.sensorReadings);
  await transport.close();
  const admin = new Kafka({
    clientId: 'cli-signals-offsets',
    brokers: requireKafka(),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    await admin.setOffsets({
      groupId,
      topic: TOPICS.sensorReadings,
      partitions: ends.map((offset, partition) => ({ partition, offset: String(offset) })),
    });
  } finally {
    await admin.disconnect();
  }
  return groupId;
}

/**
 * Waits until the started command's featurizer runs, sends SIGTERM to the process the command started
 * (and to it alone), and waits until it has exited and no process of its tree is left. On a failure
 * whatever survives is killed, so that no consumer outlives the suite.
 */
async function stopsWholeTree(child: ChildProcess): Promise<{ output: string; exit: number | string }> {
  const output = collectOutput(child);
  let exit: number | string | undefined;
  child.once('exit', (code, signal) => {
    exit = code ?? signal ?? -1;
  });
  let tree: number[] = [];
  try {
    await waitFor(() => /featurizer running/.test(output()), 'the featurizer to run', { timeoutMs: 30_000 });
    tree = processTree(child.pid!);
    child.kill('SIGTERM');
    await waitFor(
      () => exit !== undefined && tree.every((pid) => !alive(pid)),
      `the command to exit and every process of its tree ${tree.join(',')} to end`,
      { timeoutMs: 25_000, intervalMs: 50 },
    );
    return { output: output(), exit: exit! };
  } catch (err) {
    // The tree as it was at the SIGTERM, or as it is now while the command still runs (a pid of a process
    // that has exited may be another process's by now).
    const left = exit === undefined ? new Set([...tree, ...processTree(child.pid!)]) : tree;
    for (const pid of left) if (alive(pid)) process.kill(pid, 'SIGKILL');
    throw new Error(`${(err as Error).message}; it printed:\n${output()}`);
  }
}

// The featurizer stands for every consumer subcommand: they share the entry and the run loop
// (src/cli/service-run.ts), and it stops in one fetch wait where the predictor's two consumers take two.
describe('SIGTERM stops the consumer and every process it started (issue 15)', () => {
  beforeAll(async () => {
    const transport = testKafka('cli-signals');
    await transport.ensureTopics(topicSpecs(3));
    await transport.close();
  }, 60_000);

  // Side by side: each spends most of its time loading the CLI and in the consumer's last fetch wait.
  it.concurrent('sent to the bin, as docs/operations.md says to start a consumer: exit 0, nothing left', {
    timeout: 60_000,
  }, async ({ expect }) => {
    // The bin itself, through its shebang: what node_modules/.bin/activity-tracking runs.
    const child = spawn(BIN, ['featurizer', '--group', await groupAtEnd('signals-bin')], {
      env: userEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { output, exit } = await stopsWholeTree(child);
    expect(exit, output).toBe(0);
    expect(output).toMatch(/featurizer stopping/);
  });

  it.concurrent('sent to npx, which does not pass it on: the consumer sees npx go and stops cleanly too', {
    timeout: 60_000,
  }, async ({ expect }) => {
    const child = spawn(
      'npx',
      ['--yes', 'activity-tracking', 'featurizer', '--group', await groupAtEnd('signals-npx')],
      {
        cwd: ROOT,
        env: userEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const { output, exit } = await stopsWholeTree(child);
    // npm ends at once with the signal's code (its shell dies, the consumer is re-parented) ...
    expect([143, 'SIGTERM']).toContain(exit);
    // ... and the consumer stops as on SIGTERM, finishing its batch, rather than running on.
    expect(output).toMatch(/featurizer stopping/);
  });
});
