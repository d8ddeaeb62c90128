import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { candidateTrainer } from '../../consumers/retrainer/candidates.ts';
import { RetrainerConsumer } from '../../consumers/retrainer/consumer.ts';
import type { RetrainOutcome, Trainer } from '../../consumers/retrainer/retrain.ts';
import { drained } from '../../src/cli/drain.ts';
import { FEATURE_NAMES } from '../../src/features/index.ts';
import { encodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import { namespacedTopics, topicSpecs } from '../../src/topics.ts';
import { EmbeddedTrackingStore } from '../../src/tracking/embedded/store.ts';
import { KafkaTransport } from '../../src/transport/kafka/kafka-transport.ts';
import { KAFKA_DEFAULTS } from '../../src/transport/kafka/options.ts';
import { requireKafka } from '../setup/services.ts';
import { featureVectors, recordingLogger } from '../support/features.ts';
import { waitFor } from '../support/wait.ts';

/** The broker's smallest session timeout (group.min.session.timeout.ms): a dead member is noticed soonest. */
const SESSION_MS = 6000;

async function memberIds(brokers: string[], group: string): Promise<string[]> {
  const admin = new Kafka({ brokers, clientId: 'membership-check', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([group]);
    return groups[0].members.map((m) => m.memberId);
  } finally {
    await admin.disconnect();
  }
}

/**
 * issue 15 item 6: kafkajs heartbeats only between batches and when a handler asks, so a retraining that
 * holds its batch longer than the session timeout used to cost the retrainer its membership ("the
 * coordinator is not aware of this member", a crash, a rejoin). The batch now heartbeats while it trains.
 */
describe('retrainer on the real broker, a retraining longer than the session timeout', () => {
  it('keeps its group membership: same member, no crash, one version, the burst committed', {
    timeout: 120_000,
  }, async () => {
    const brokers = requireKafka();
    const transport = new KafkaTransport({
      ...KAFKA_DEFAULTS,
      brokers,
      clientId: 'retrainer-membership',
      sessionTimeoutMs: SESSION_MS,
    });
    const topics = namespacedTopics(`rm-${randomUUID()}`);
    const group = `rm-${randomUUID()}`;
    const { logger, records } = recordingLogger('info');
    const backend = new EmbeddedTrackingStore(mkdtempSync(path.join(tmpdir(), 'retrainer-membership-')));
    try {
      await transport.ensureTopics(topicSpecs(1, topics));
      const producer = await transport.producer();
      await producer.publish(featureVectors(topics.features, { devices: 2, perDevice: 120 }));
      // One drift per phone, its post-drift window the phone's second half.
      await producer.publish(
        [0, 1].map((d) => {
          const device = `synthetic-${d}`;
          const { headers, value } = encodeEvent({
            type: EVENT_TYPES.drift,
            source: 'test',
            subject: device,
            id: `drift-${d}`,
            data: {
              kind: 'data',
              device,
              activity: 'WALKING',
              feature: FEATURE_NAMES[0],
              featureIndex: 0,
              detector: { name: 'adwin', delta: 0.002 },
              widthBefore: 60,
              widthAfter: 60,
              meanBefore: 0,
              meanAfter: 1,
              detectedAt: { topic: topics.features, partition: 0, offset: d * 120 + 60 },
              window: { topic: topics.features, partition: 0, fromOffset: d * 120 + 60, toOffset: d * 120 + 119 },
              confirmedBy: 3,
            },
          });
          return { topic: topics.driftEvents, key: device, headers, value };
        }),
      );
      await producer.close();

      const quick = candidateTrainer([{ name: 'knn-k5', kind: 'knn', options: { k: 5 } }], { mode: 'in-process' });
      let joinedAs: string[] = [];
      // A retraining that outlasts two session timeouts, its thread free (as trained in workers).
      const slow: Trainer = async (train, validation) => {
        const result = await quick(train, validation);
        joinedAs = await memberIds(brokers, group);
        const started = Date.now();
        await waitFor(() => Date.now() - started > 2 * SESSION_MS, 'the retraining to outlast two session timeouts', {
          timeoutMs: 4 * SESSION_MS,
          intervalMs: 250,
        });
        return result;
      };
      const outcomes: RetrainOutcome[] = [];
      const retrainer = new RetrainerConsumer({
        transport,
        backend,
        trainer: slow,
        topics,
        groupId: group,
        model: `m-${randomUUID().slice(0, 8)}`,
        quietMs: 300,
        maxWaitMs: 2000,
        calibrate: false,
        logger,
        onRetrained: (o) => outcomes.push(o),
      });
      await retrainer.start();
      try {
        await waitFor(() => outcomes.length >= 1, 'the retraining', { timeoutMs: 90_000 });
        await drained(transport, [[group, topics.driftEvents]], 60_000);
        expect(joinedAs).toHaveLength(1);
        expect(await memberIds(brokers, group)).toEqual(joinedAs);
      } finally {
        await retrainer.stop();
      }
      expect(outcomes.map((o) => [o.status, o.version?.version])).toEqual([['trained', 1]]);
      const trouble = records().filter((r) => (r.level as number) >= 40);
      expect(trouble.map((r) => r.msg)).toEqual([]);
    } finally {
      await transport.close();
      await backend.close();
    }
  });
});
