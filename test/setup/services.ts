import { inject } from 'vitest';
import { KafkaTransport } from '../../src/transport/kafka/kafka-transport.ts';
import { KAFKA_DEFAULTS } from '../../src/transport/kafka/options.ts';
import { waitFor } from '../support/wait.ts';
import type { SecureKafka } from './kafka.ts';
import { mlflowStartError } from './mlflow.ts';

/** Brokers of the real test broker; a suite that needs Kafka fails (never skips) when there is none. */
export function requireKafka(): string[] {
  const brokers = inject('kafkaBrokers');
  if (!brokers) {
    throw new Error(
      `this suite needs a real Kafka broker and none is available: ${inject('kafkaError') ?? 'not started'}. ` +
        'Run it through `npm test` (which starts one with scripts/services/kafka.sh) or set KAFKA_BROKERS.',
    );
  }
  return brokers.split(',');
}

/**
 * URL of the real MLflow server, once it answers. The set-up starts it without holding the other suites
 * (its first start, a pip install, takes a minute); a suite that needs it waits here, and fails (never
 * skips) when the start failed or the server does not come.
 */
export async function requireMlflow(): Promise<string> {
  const uri = inject('mlflowUri');
  if (!uri) {
    throw new Error(
      `this suite needs a real MLflow server and none is available: ${inject('mlflowError') ?? 'not started'}. ` +
        'Run it through `npm test` (which starts one with scripts/services/mlflow.sh) or set MLFLOW_TRACKING_URI.',
    );
  }
  await waitFor(
    async () => {
      const failed = mlflowStartError();
      if (failed) throw new Error(`this suite needs a real MLflow server and it could not be started: ${failed}`);
      return fetch(`${uri}/health`).then(
        (r) => r.ok,
        () => false,
      );
    },
    `MLflow at ${uri} to answer /health`,
    { timeoutMs: 600_000, intervalMs: 500 },
  );
  return uri;
}

/** A Kafka transport on the test broker, with the settings every suite uses. */
export function testKafka(clientId: string, brokers: string[] = requireKafka()): KafkaTransport {
  return new KafkaTransport({ ...KAFKA_DEFAULTS, brokers, clientId });
}

/** Connection string of the Azurite blob service; a suite that needs it fails (never skips) when there is none. */
export function requireAzurite(): string {
  const cs = inject('azuriteConnectionString');
  if (!cs) {
    throw new Error(
      `this suite needs Azurite and none is available: ${inject('azuriteError') ?? 'not started'}. ` +
        'Run it through `npm test` (which starts the azurite dev dependency) or set AZURITE_CONNECTION_STRING.',
    );
  }
  return cs;
}

/**
 * The SASL_SSL listener of the test broker. A suite that needs it fails when there is none, except that
 * outside CI it is skipped (undefined) when KAFKA_BROKERS points the suites at a broker the setup did not
 * start, whose secure listener it does not know.
 */
export function secureKafkaOrSkip(): SecureKafka | undefined {
  const secure = inject('kafkaSecure');
  if (secure) return secure;
  const why = inject('kafkaSecureError') ?? 'not started';
  if (process.env.CI === 'true' || !inject('kafkaBrokers'))
    throw new Error(
      `this suite needs the SASL_SSL listener of the test Kafka broker and none is available: ${why}. ` +
        'Run it through `npm test`, which starts one with scripts/services/kafka.sh.',
    );
  return undefined;
}
