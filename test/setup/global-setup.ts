import type { TestProject } from 'vitest/node';
import { startAzurite } from './azurite.ts';
import { buildDist } from './build.ts';
import { type SecureKafka, startKafka } from './kafka.ts';
import { mlflowUri, startMlflow } from './mlflow.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Bootstrap brokers of the real Kafka broker the suites use, or undefined when none could be started. */
    kafkaBrokers: string | undefined;
    kafkaError: string | undefined;
    /** The SASL_SSL listener of that broker, its CA and users, or undefined when there is none. */
    kafkaSecure: SecureKafka | undefined;
    kafkaSecureError: string | undefined;
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
 * dist/ is built meanwhile: a failed build fails the run once the services are stopped. The serving
 * image is built by its own suite, beside the others (test/setup/image.ts).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const teardown: (() => Promise<void>)[] = [];
  // MLflow's first start (a pip install) alone takes a minute, and three suites need it: it goes on
  // starting while the suites run; those that need it wait for it (requireMlflow in services.ts).
  const mlflow = startMlflow();
  teardown.push(async () => (await mlflow).stop?.());
  // The others start side by side, and every suite waits for them.
  const [build, ...settled] = await Promise.allSettled([buildDist(), startKafka(), startAzurite()]);
  for (const s of settled) if (s.status === 'fulfilled' && s.value.stop) teardown.push(s.value.stop);
  const failed = [build, ...settled].find((s) => s.status === 'rejected');
  if (failed) {
    // The build failed, or CI=true and a service is missing: stop the others, then fail the run.
    await Promise.allSettled(teardown.map((stop) => stop()));
    throw failed.reason;
  }
  const value = <T>(s: PromiseSettledResult<T>) => (s as PromiseFulfilledResult<T>).value;
  const [kafka, azurite] = [value(settled[0]), value(settled[1])];
  project.provide('kafkaBrokers', kafka.brokers);
  project.provide('kafkaError', kafka.error);
  project.provide('kafkaSecure', kafka.secure);
  project.provide('kafkaSecureError', kafka.secureError ?? kafka.error);
  project.provide('mlflowUri', mlflowUri());
  project.provide('mlflowError', undefined);
  project.provide('azuriteConnectionString', azurite.connectionString);
  project.provide('azuriteError', azurite.error);
  return async () => {
    await Promise.allSettled(teardown.map((stop) => stop()));
  };
}
