import { afterEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/exit.ts';
import { InvalidOptionError, ServiceUnavailableError } from '../../src/errors.ts';
import type { Logger } from '../../src/log/logger.ts';
import { createTransport } from '../../src/transport/index.ts';
import { KafkaTransport, type KafkaTransportOptions } from '../../src/transport/kafka/kafka-transport.ts';
import { KAFKA_DEFAULTS } from '../../src/transport/kafka/options.ts';
import type { Transport } from '../../src/transport/types.ts';
import { secureKafkaOrSkip } from '../setup/services.ts';
import { runCli } from '../support/cli.ts';
import { recordingLogger } from '../support/features.ts';

const secure = secureKafkaOrSkip();

/**
 * Each refusal must come well before the default timeouts (KAFKA_RETRIES 10 is about 35 s): kafkajs does
 * not retry refused credentials, and the cases it retries run here with one retry, as the one-shot
 * commands do with three.
 */
const QUICK_MS = 10_000;

describe.skipIf(!secure)('Kafka over SASL_SSL: what a client that cannot connect is told', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** The error of a first admin call (which connects) of `transport`, and how long it took. */
  async function failure(transport: Transport): Promise<{ err: unknown; ms: number }> {
    cleanups.push(() => transport.close());
    const started = Date.now();
    const err = await transport.ensureTopics([{ topic: 'never-created' }]).then(
      () => new Error('connected'),
      (e: unknown) => e,
    );
    return { err, ms: Date.now() - started };
  }

  function transport(options: Partial<KafkaTransportOptions>, logger: Logger): KafkaTransport {
    return new KafkaTransport({
      ...KAFKA_DEFAULTS,
      brokers: [secure!.brokers],
      clientId: 'secure-errors',
      retries: 1,
      logger,
      ...options,
    });
  }

  it('a wrong SCRAM password is a configuration error that names the settings, at once, and is never logged', async () => {
    const password = `wrong-${secure!.scram.password}`;
    const { logger, records } = recordingLogger('debug');
    const { err, ms } = await failure(
      transport(
        {
          ssl: true,
          sslCaFile: secure!.caFile,
          sasl: { mechanism: 'scram-sha-512', username: secure!.scram.username, password },
          retries: KAFKA_DEFAULTS.retries,
        },
        logger as Logger,
      ),
    );
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as Error).message).toMatch(
      /^Kafka brokers 127\.0\.0\.1:\d+ refused the SASL SCRAM-SHA-512 credentials of user "test-scram" \(.*\); check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM$/,
    );
    expect(ms).toBeLessThan(QUICK_MS);
    expect(JSON.stringify(err)).not.toContain(password);
    for (const record of records()) expect(JSON.stringify(record)).not.toContain(password);
  });

  it('an Event Hubs connection string with a wrong key names EVENTHUBS_CONNECTION_STRING, and no log holds the key', async () => {
    const key = Buffer.from('not-the-key-of-this-namespace').toString('base64');
    const cs = secure!.connectionString.replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${key}`);
    const { logger, records } = recordingLogger('debug');
    const t = createTransport('kafka', {
      env: { EVENTHUBS_CONNECTION_STRING: cs, KAFKA_SSL_CA: secure!.caFile },
      logger: logger as Logger,
    });
    const { err, ms } = await failure(t);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as Error).message).toMatch(
      /refused the SASL PLAIN credentials of user "\$ConnectionString".*EVENTHUBS_CONNECTION_STRING/,
    );
    expect(ms).toBeLessThan(QUICK_MS);
    expect(JSON.stringify(err)).not.toContain(key);
    for (const record of records()) expect(JSON.stringify(record)).not.toContain(key);
  });

  it('a broker certificate from a CA the client does not trust is a configuration error that names KAFKA_SSL_CA', async () => {
    const { logger, records } = recordingLogger('debug');
    const { err, ms } = await failure(
      transport({ ssl: true, sasl: { mechanism: 'plain', ...secure!.plain } }, logger as Logger),
    );
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as Error).message).toMatch(
      /^TLS does not trust the certificate of Kafka brokers 127\.0\.0\.1:\d+ \(.*self-signed certificate in certificate chain\); set KAFKA_SSL_CA to the PEM file of the CA that signed it$/,
    );
    expect(ms).toBeLessThan(QUICK_MS);
    for (const record of records()) expect(JSON.stringify(record)).not.toContain(secure!.plain.password);
  });

  it('a plaintext client on the TLS port is told the brokers are unreachable, and that the listener may want TLS', async () => {
    const { logger } = recordingLogger('debug');
    const { err, ms } = await failure(transport({ ssl: false }, logger as Logger));
    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect((err as Error).message).toMatch(
      /^Kafka brokers 127\.0\.0\.1:\d+ are not reachable \(.+\); check KAFKA_BROKERS.*may want TLS \(KAFKA_SSL=true\)$/,
    );
    expect(ms).toBeLessThan(QUICK_MS);
  });

  it('activity-tracking topics create with a wrong password exits 78 with one line and no secret', async () => {
    const password = `wrong-${secure!.plain.password}`;
    const started = Date.now();
    const r = await runCli(['topics', 'create'], {
      KAFKA_BROKERS: secure!.brokers,
      KAFKA_SSL_CA: secure!.caFile,
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: secure!.plain.username,
      KAFKA_SASL_PASSWORD: password,
    });
    expect(r.code, r.stderr).toBe(EXIT.config);
    expect(r.stderr).toMatch(
      /^error \[INVALID_OPTION\]: Kafka brokers 127\.0\.0\.1:\d+ refused the SASL PLAIN credentials of user "test-plain" \(.*\); check KAFKA_SASL_USERNAME\b.*\n$/,
    );
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(`${r.stdout}${r.stderr}`).not.toContain(password);
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
