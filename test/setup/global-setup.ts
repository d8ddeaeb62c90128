import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { startAzurite } from './azurite.ts';
import { startMlflow } from './mlflow.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');

declare module 'vitest' {
  export interface ProvidedContext {
    /** Bootstrap brokers of the real Kafka broker the suites use, or undefined when none could be started. */
    kafkaBrokers: string | undefined;
    kafkaError: string | undefined;
    /** URL of the real MLflow tracking server the suites use, or undefined when none could be started. */
    mlflowUri: string | undefined;
    mlflowError: string | undefined;
    /** Connection string of the Azurite blob service (Event Hubs checkpoints), or undefined when none could be started. */
    azuriteConnectionString: string | undefined;
    azuriteError: string | undefined;
  }
}

/**
 * Starts the real services the suites need and stops what it started.
 * `KAFKA_BROKERS` points the suites at a running broker instead of starting one.
 * With CI=true, a service that cannot be started fails the whole run.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const teardown: (() => Promise<void>)[] = [];
  const started = Date.now();
  let brokers = process.env.KAFKA_BROKERS;
  let kafkaError: string | undefined;
  if (!brokers) {
    const port = process.env.TEST_KAFKA_PORT ?? '19092';
    const env = { ...process.env, KAFKA_PORT: port, KAFKA_FRESH: '1' };
    try {
      const { stdout } = await run('bash', [path.join(ROOT, 'scripts/services/kafka.sh'), 'start'], {
        env,
        timeout: 300_000,
      });
      process.stdout.write(`[services] ${stdout.trim()} in ${Date.now() - started} ms\n`);
      brokers = `127.0.0.1:${port}`;
      teardown.push(async () => {
        await run('bash', [path.join(ROOT, 'scripts/services/kafka.sh'), 'stop'], { env });
      });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      kafkaError = `the test Kafka broker could not be started: ${e.stderr?.trim() || e.message}`;
      if (process.env.CI === 'true') throw new Error(kafkaError);
      process.stdout.write(`[services] ${kafkaError}\n`);
    }
  }
  project.provide('kafkaBrokers', brokers);
  project.provide('kafkaError', kafkaError);
  const mlflow = await startMlflow();
  if (mlflow.stop) teardown.push(mlflow.stop);
  project.provide('mlflowUri', mlflow.uri);
  project.provide('mlflowError', mlflow.error);
  const azurite = await startAzurite();
  if (azurite.stop) teardown.push(azurite.stop);
  project.provide('azuriteConnectionString', azurite.connectionString);
  project.provide('azuriteError', azurite.error);
  return async () => {
    for (const stop of teardown.reverse()) await stop();
  };
}
