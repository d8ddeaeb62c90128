import { inject } from 'vitest';

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
