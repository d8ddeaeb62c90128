import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/log/logger.ts';
import { createTransport } from '../../src/transport/index.ts';
import { KafkaTransport } from '../../src/transport/kafka/kafka-transport.ts';
import { KAFKA_DEFAULTS, kafkaOptionsFromEnv, type SaslMechanism } from '../../src/transport/kafka/options.ts';
import type { ConsumedRecord, Transport } from '../../src/transport/types.ts';
import { secureKafkaOrSkip } from '../setup/services.ts';
import { recordingLogger } from '../support/features.ts';
import { waitFor } from '../support/wait.ts';
import { describeTransport } from './conformance.ts';

const secure = secureKafkaOrSkip();

/** A transport on the test broker's SASL_SSL listener, trusting its CA. */
function secureTransport(clientId: string, mechanism: SaslMechanism, user: { username: string; password: string }) {
  return new KafkaTransport({
    ...KAFKA_DEFAULTS,
    brokers: [secure!.brokers],
    clientId,
    ssl: true,
    sslCaFile: secure!.caFile,
    sasl: { mechanism, ...user },
  });
}

describe.skipIf(!secure)('Kafka over SASL_SSL (the test broker, scripts/services/kafka.sh)', () => {
  // One conformance pass through TLS and SASL (it takes a minute); PLAIN and SCRAM-SHA-256 make round trips below.
  describeTransport('kafka, SASL_SSL SCRAM-SHA-512', async () =>
    secureTransport('conformance-scram-512', 'scram-sha-512', secure!.scram),
  );

  describe('round trips', () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    /** Creates a topic, publishes three records and reads them back through a group. */
    async function roundTrip(transport: Transport): Promise<void> {
      cleanups.push(() => transport.close());
      const topic = `secure-${randomUUID()}`;
      await transport.ensureTopics([{ topic, partitions: 1 }]);
      const producer = await transport.producer();
      cleanups.push(() => producer.close());
      await producer.publish(['a', 'b', 'c'].map((v) => ({ topic, key: 'k', value: Buffer.from(v) })));
      const seen: ConsumedRecord[] = [];
      const sub = await transport.subscribe({
        groupId: `g-${randomUUID()}`,
        topics: [topic],
        handler: async (batch) => {
          seen.push(...batch.records);
        },
      });
      cleanups.push(() => sub.stop());
      await waitFor(() => seen.length >= 3, 'the three records');
      expect(seen.map((r) => r.value.toString())).toEqual(['a', 'b', 'c']);
    }

    it('PLAIN connects, publishes and consumes', async () => {
      await roundTrip(secureTransport('plain', 'plain', secure!.plain));
    });

    it('SCRAM-SHA-256 connects, publishes and consumes', async () => {
      await roundTrip(secureTransport('scram-256', 'scram-sha-256', secure!.scram));
    });

    it('the Event Hubs Kafka-endpoint settings of a connection string reach the broker, and log no secret', async () => {
      const env = { EVENTHUBS_CONNECTION_STRING: secure!.connectionString, KAFKA_SSL_CA: secure!.caFile };
      const options = kafkaOptionsFromEnv(env);
      expect(options).toMatchObject({
        brokers: [secure!.brokers],
        ssl: true,
        sslCaFile: secure!.caFile,
        sasl: { mechanism: 'plain', username: '$ConnectionString', password: secure!.connectionString },
      });
      const { logger, records } = recordingLogger('debug');
      await roundTrip(createTransport('kafka', { env, logger: logger as Logger }));
      const key = /SharedAccessKey=([^;]+)/.exec(secure!.connectionString)![1]!;
      for (const record of records()) expect(JSON.stringify(record)).not.toContain(key);
    });
  });
});
