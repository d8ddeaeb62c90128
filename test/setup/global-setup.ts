import type { TestProject } from 'vitest/node';
import { startAzurite } from './azurite.ts';
import { buildDist } from './build.ts';
import { buildServingImage } from './image.ts';
import { startMlflow } from './mlflow.ts';
import { startScriptService } from './script-service.ts';

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
    /** The serving image built by scripts/services/image.sh, or undefined when it could not be built. */
    servingImage: string | undefined;
    servingImageError: string | undefined;
  }
}

/**
 * Starts the real services the suites need and stops what it started.
 * `KAFKA_BROKERS` points the suites at a running broker instead of starting one.
 * With CI=true, a service that cannot be started fails the whole run.
 * dist/ is built meanwhile: a failed build fails the run once the services are stopped. So is the
 * serving image (test/serving/image.test.ts): a cold build takes minutes, a warm one half a minute.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const teardown: (() => Promise<void>)[] = [];
  // The services start side by side: MLflow's first start (a pip install) alone takes a minute.
  const [build, image, ...settled] = await Promise.allSettled([
    buildDist(),
    buildServingImage(),
    startKafka(),
    startMlflow(),
    startAzurite(),
  ]);
  for (const s of settled) if (s.status === 'fulfilled' && s.value.stop) teardown.push(s.value.stop);
  const failed = [build, image, ...settled].find((s) => s.status === 'rejected');
  if (failed) {
    // A build failed, or CI=true and a service or the image is missing: stop the others, then fail the run.
    await Promise.allSettled(teardown.map((stop) => stop()));
    throw failed.reason;
  }
  const value = <T>(s: PromiseSettledResult<T>) => (s as PromiseFulfilledResult<T>).value;
  const [kafka, mlflow, azurite] = [value(settled[0]), value(settled[1]), value(settled[2])];
  project.provide('kafkaBrokers', kafka.brokers);
  project.provide('kafkaError', kafka.error);
  project.provide('mlflowUri', mlflow.uri);
  project.provide('mlflowError', mlflow.error);
  project.provide('azuriteConnectionString', azurite.connectionString);
  project.provide('azuriteError', azurite.error);
  project.provide('servingImage', value(image).image);
  project.provide('servingImageError', value(image).error);
  return async () => {
    await Promise.allSettled(teardown.map((stop) => stop()));
  };
}

/** A real Kafka broker (scripts/services/kafka.sh); `KAFKA_BROKERS` points the suites at a running one instead. */
async function startKafka(): Promise<{ brokers?: string; error?: string; stop?: () => Promise<void> }> {
  if (process.env.KAFKA_BROKERS) return { brokers: process.env.KAFKA_BROKERS };
  const port = process.env.TEST_KAFKA_PORT ?? '19092';
  const env = { ...process.env, KAFKA_PORT: port, KAFKA_FRESH: '1' };
  const started = await startScriptService('kafka.sh', 'the test Kafka broker', env, 300_000);
  return started.error ? started : { ...started, brokers: `127.0.0.1:${port}` };
}
