/**
 * Prints the pipeline's drift events and predictions as they come: `npx tsx examples/subscribe.ts`.
 * The environment picks the log as the CLI does (KAFKA_BROKERS, EVENTHUBS_CONNECTION_STRING, TRANSPORT,
 * TOPIC_PREFIX); with none set it is an in-process log that nothing else writes to, so the example
 * publishes one drift event and one prediction itself, prints them and exits. Ctrl-C stops it; what the
 * loops had not finished is delivered again to the group's next subscriber.
 */
import { connect, EVENT_TYPES } from '../src/client/index.ts';
import { encodeEvent } from '../src/schemas/cloudevents.ts';

const client = await connect();
const group = process.env.GROUP ?? 'example-subscriber';
console.log(
  `connected to ${client.transport.kind}; reading ${client.topics.driftEvents} and ${client.topics.predictions}`,
);

const stop = () => void client.close();
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

const demo = client.transport.kind === 'embedded';
if (demo) await publishDemoEvents();

async function printDrift(): Promise<void> {
  for await (const e of client.subscribeDrift({ group: `${group}-drift` })) {
    const d = e.data;
    console.log(
      `${e.time} drift ${d.kind} device=${d.device} activity=${d.activity} feature=${d.feature} ` +
        `mean ${d.meanBefore} -> ${d.meanAfter} (${e.topic}/${e.partition}@${e.offset}, id ${e.id})`,
    );
    if (demo) break;
  }
}

async function printPredictions(): Promise<void> {
  for await (const e of client.subscribePredictions({ group: `${group}-predictions` })) {
    const p = e.data;
    const confidence = p.probabilities[p.activity] ?? 0;
    console.log(
      `${e.time} prediction device=${p.device} ${p.activity} (${(confidence * 100).toFixed(0)}%) ` +
        `model ${p.model} v${p.version} (${e.topic}/${e.partition}@${e.offset})`,
    );
    if (demo) break;
  }
}

await Promise.all([printDrift(), printPredictions()]);
await client.close();

async function publishDemoEvents(): Promise<void> {
  const producer = await client.transport.producer();
  const position = { topic: client.topics.features, partition: 0, offset: 41 };
  const drift = encodeEvent({
    type: EVENT_TYPES.drift,
    source: 'examples/subscribe',
    subject: 'phone-1',
    data: {
      kind: 'data',
      device: 'phone-1',
      activity: 'WALKING',
      feature: 'tBodyAcc-mean-X',
      featureIndex: 0,
      detector: { name: 'adwin', delta: 0.002 },
      widthBefore: 96,
      widthAfter: 32,
      meanBefore: 0.27,
      meanAfter: 0.41,
      detectedAt: position,
      window: { topic: position.topic, partition: 0, fromOffset: 10, toOffset: 41 },
      confirmedBy: 3,
    },
  });
  const prediction = encodeEvent({
    type: EVENT_TYPES.prediction,
    source: 'examples/subscribe',
    subject: 'phone-1',
    data: {
      device: 'phone-1',
      window: { start: Date.now() - 2560, end: Date.now() },
      activity: 'WALKING',
      probabilities: { WALKING: 0.9, SITTING: 0.1 },
      model: 'activity-knn',
      version: 1,
      latencyMs: 0.4,
      source: position,
    },
  });
  await producer.publish([
    { topic: client.topics.driftEvents, key: 'phone-1', ...drift },
    { topic: client.topics.predictions, key: 'phone-1', ...prediction },
  ]);
  await producer.close();
}
