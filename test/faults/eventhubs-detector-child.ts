/**
 * A drift-detector instance on Event Hubs in its own process, for the fault tests: at-least-once (Event
 * Hubs has no transactions), checkpointing its state every 100 vectors. Configured from the environment
 * (EVENTHUBS_*), as a deployed consumer is. Arguments: topic names (JSON), group id.
 */
import { driftDetectorConsumer } from '../../consumers/index.ts';
import type { TopicNames } from '../../src/topics.ts';
import { createTransport } from '../../src/transport/index.ts';

const [topicsJson, groupId] = process.argv.slice(2);
const transport = createTransport('eventhubs');
const { consumer } = driftDetectorConsumer({
  transport,
  topics: JSON.parse(topicsJson) as TopicNames,
  groupId,
  checkpointInterval: 100,
});
await consumer.start();
process.stdout.write('started\n');
