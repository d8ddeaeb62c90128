import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/index.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { encodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import { EXAMPLES } from '../schemas/examples.ts';
import { requireKafka } from '../setup/services.ts';
import { take } from './take.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('client on Kafka', () => {
  it('commits after the loop body: a break and a crash give the group the unfinished records again, nothing skipped', async () => {
    const client = await connect({
      transport: 'kafka',
      env: { KAFKA_BROKERS: requireKafka().join(','), KAFKA_CLIENT_ID: 'client-test' },
      topicPrefix: `client-${randomUUID()}`,
      logger: silentLogger,
    });
    cleanups.push(() => client.close());
    const topic = client.topics.driftEvents;
    await client.transport.ensureTopics([{ topic, partitions: 1 }]);
    const producer = await client.transport.producer();
    cleanups.push(() => producer.close());
    await producer.publish(
      Array.from({ length: 10 }, (_, i) => {
        const { headers, value } = encodeEvent({
          type: EVENT_TYPES.drift,
          source: 'test',
          id: `drift-${i}`,
          data: EXAMPLES['dev.activity-tracking.drift.v1'],
        });
        return { topic, key: 'user-01', headers, value };
      }),
    );
    const group = `svc-${randomUUID()}`;
    // Four finished, a break on the fifth.
    expect(await take(client.subscribeDrift({ group }), 5)).toEqual([
      'drift-0',
      'drift-1',
      'drift-2',
      'drift-3',
      'drift-4',
    ]);
    expect(await client.transport.committedOffsets(group, topic)).toEqual([4]);
    // Two finished (drift-4, drift-5), a crash on drift-6.
    await expect(take(client.subscribeDrift({ group }), 10, 2)).rejects.toThrow('crash');
    expect(await client.transport.committedOffsets(group, topic)).toEqual([6]);
    expect(await take(client.subscribeDrift({ group }), 4)).toEqual(['drift-6', 'drift-7', 'drift-8', 'drift-9']);
  });
});
