import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { startScriptService } from './script-service.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** The SASL_SSL listener of the test broker (scripts/services/kafka.sh), for the secure-connection suites. */
export interface SecureKafka {
  /** `127.0.0.1:<port>` of the SASL_SSL listener. */
  brokers: string;
  /** PEM file of the CA that signed the listener's certificate. */
  caFile: string;
  /** A user of mechanism PLAIN. */
  plain: { username: string; password: string };
  /** A user with SCRAM-SHA-256 and SCRAM-SHA-512 credentials. */
  scram: { username: string; password: string };
  /** An Event Hubs connection string whose endpoint is the listener; the broker's `$ConnectionString` user takes it. */
  connectionString: string;
}

export interface StartedKafka {
  brokers?: string;
  error?: string;
  secure?: SecureKafka;
  secureError?: string;
  stop?: () => Promise<void>;
}

/**
 * A real Kafka broker (scripts/services/kafka.sh) with a SASL_SSL listener on `TEST_KAFKA_SASL_SSL_PORT`
 * (default: the Kafka port + 2; + 1 is its controller). Passwords are made for this run, so a test that
 * looks for them in logs finds only what leaked. `KAFKA_BROKERS` points the suites at a running broker
 * instead, whose secure listener the suites do not know.
 */
export async function startKafka(): Promise<StartedKafka> {
  if (process.env.KAFKA_BROKERS)
    return {
      brokers: process.env.KAFKA_BROKERS,
      secureError:
        'KAFKA_BROKERS points the suites at a running broker, and the secure-connection suites need the SASL_SSL listener of the broker the test setup starts; unset KAFKA_BROKERS',
    };
  const port = process.env.TEST_KAFKA_PORT ?? '19092';
  const securePort = process.env.TEST_KAFKA_SASL_SSL_PORT ?? String(Number(port) + 2);
  const data = process.env.KAFKA_DATA_DIR ?? path.join(ROOT, '.data', `kafka-${port}`);
  const secure: SecureKafka = {
    brokers: `127.0.0.1:${securePort}`,
    caFile: path.join(data, 'tls', 'ca.pem'),
    plain: { username: 'test-plain', password: `plain-${randomUUID()}` },
    scram: { username: 'test-scram', password: `scram-${randomUUID()}` },
    connectionString: `Endpoint=sb://127.0.0.1:${securePort}/;SharedAccessKeyName=test;SharedAccessKey=${randomBytes(32).toString('base64')}`,
  };
  const env = {
    ...process.env,
    KAFKA_PORT: port,
    KAFKA_FRESH: '1',
    KAFKA_SASL_SSL_PORT: securePort,
    KAFKA_SASL_PLAIN_USER: secure.plain.username,
    KAFKA_SASL_PLAIN_PASSWORD: secure.plain.password,
    KAFKA_SASL_SCRAM_USER: secure.scram.username,
    KAFKA_SASL_SCRAM_PASSWORD: secure.scram.password,
    KAFKA_SASL_CONNECTION_STRING: secure.connectionString,
  };
  const started = await startScriptService('kafka.sh', 'the test Kafka broker', env, 300_000);
  return started.error ? started : { ...started, brokers: `127.0.0.1:${port}`, secure };
}
