import { KafkaTransport } from '../../src/transport/kafka/kafka-transport.ts';
import { requireKafka } from '../setup/services.ts';
import { describeTransport } from './conformance.ts';

describeTransport(
  'kafka',
  async () =>
    new KafkaTransport({
      brokers: requireKafka(),
      clientId: 'conformance',
      ssl: false,
      replicationFactor: -1,
      connectionTimeoutMs: 10_000,
    }),
);
