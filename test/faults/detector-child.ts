/**
 * A drift-detector instance in its own process, for the fault tests: exactly-once, checkpointing every
 * 100 vectors. Arguments: brokers, topic names (JSON), group id. SIGTERM stops it cleanly; the tests
 * also SIGKILL it. Stdout carries its log as JSON lines (the tests read its partition assignments from
 * them) and `started` once it has joined.
 */
import { driftDetectorConsumer } from '../../consumers/index.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { TopicNames } from '../../src/topics.ts';
import { KafkaTransport } from '../../src/transport/kafka/kafka-transport.ts';

const [brokers, topicsJson, groupId] = process.argv.slice(2);
const transport = new KafkaTransport({
  brokers: brokers.split(','),
  clientId: `fault-child-${process.pid}`,
  ssl: false,
  replicationFactor: -1,
  connectionTimeoutMs: 10_000,
  sessionTimeoutMs: 6_000,
});
const { consumer } = driftDetectorConsumer({
  transport,
  logger: createLogger({ level: 'info', name: 'detector-child' }),
  topics: JSON.parse(topicsJson) as TopicNames,
  groupId,
  exactlyOnce: true,
  checkpointInterval: 100,
});
await consumer.start();
process.stdout.write('started\n');
process.on('SIGTERM', () => {
  void consumer
    .stop()
    .then(() => transport.close())
    .then(() => process.exit(0));
});
