import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { type Client, connect, type InvalidRecord, type ReceivedEvent } from '../../src/client/index.ts';
import { createLogger } from '../../src/log/logger.ts';
import { decodeEvent, encodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { DriftEvent, Prediction } from '../../src/schemas/types.gen.ts';
import { TOPICS, topicSpecs } from '../../src/topics.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import { EXAMPLES } from '../schemas/examples.ts';
import { waitFor } from '../support/wait.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  log: EmbeddedLog;
  client: Client;
  /** Log records the client wrote. */
  lines: Record<string, unknown>[];
}

async function setup(): Promise<Setup> {
  const log = new EmbeddedLog();
  await log.ensureTopics(topicSpecs());
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  const client = await connect({ transport: log, logger: createLogger({ destination: sink as never }) });
  cleanups.push(async () => {
    await client.close();
    await log.close();
  });
  return { log, client, lines };
}

function drift(i: number): DriftEvent {
  return { ...EXAMPLES['dev.activity-tracking.drift.v1'], widthAfter: 32 + i, device: `user-${i % 3}` };
}

async function publishDrift(log: EmbeddedLog, count: number, from = 0): Promise<void> {
  const producer = await log.producer();
  await producer.publish(
    Array.from({ length: count }, (_, j) => {
      const i = from + j;
      const { headers, value } = encodeEvent({
        type: EVENT_TYPES.drift,
        source: 'activity-tracking/drift-detector',
        id: `drift-${i}`,
        subject: drift(i).device,
        time: new Date(1_700_000_000_000 + i),
        data: drift(i),
      });
      return { topic: TOPICS.driftEvents, key: drift(i).device, headers, value };
    }),
  );
}

/**
 * Reads `count` events, running `body` on each, and breaks out of the loop in the last one's body: that
 * one is not finished for the iterator (its next() never came), so it is delivered again.
 */
async function take<T>(
  stream: AsyncIterable<ReceivedEvent<T>>,
  count: number,
  body: (event: ReceivedEvent<T>, n: number) => void = () => {},
): Promise<ReceivedEvent<T>[]> {
  const seen: ReceivedEvent<T>[] = [];
  for await (const event of stream) {
    body(event, seen.length);
    seen.push(event);
    if (seen.length === count) break;
  }
  return seen;
}

describe('client: readings', () => {
  it('sendReadings numbers a device’s samples into sensor-readings v1; sendTimedReadings sends v2', async () => {
    const { log, client } = await setup();
    const rows = Array.from({ length: 50 }, (_, i) => [0.01 * i, 0, 1, 0, 0.1, 0]);
    await client.sendReadings('phone-1', rows, { timestamp: 1_700_000_000_000, labels: rows.map(() => 'WALKING') });
    await client.sendReadings('phone-1', rows);
    await client.sendTimedReadings(
      'phone-1',
      'gyro',
      [1_700_000_002_000, 1_700_000_002_011],
      [
        [0.1, 0.2, 0.3],
        [0.1, 0.2, 0.4],
      ],
    );
    const records = log.snapshotTopic(TOPICS.sensorReadings).flat();
    expect(records).toHaveLength(3);
    expect(new Set(records.map((r) => r.partition)).size).toBe(1);
    const events = records.sort((a, b) => a.offset - b.offset).map((r) => decodeEvent(r.headers, r.value));
    expect(events.map((e) => e.type)).toEqual([
      EVENT_TYPES.sensorReadings,
      EVENT_TYPES.sensorReadings,
      EVENT_TYPES.sensorReadingsV2,
    ]);
    const [first, second] = events as { data: { sequence: number; timestamp: number; samples: number[][] } }[];
    expect(first.data).toMatchObject({ sequence: 0, timestamp: 1_700_000_000_000, samples: rows });
    // The second batch continues the device's sequence and its 50 Hz clock.
    expect(second.data).toMatchObject({ sequence: 50, timestamp: 1_700_000_001_000 });
    expect(events[2].data).toMatchObject({
      device: 'phone-1',
      sensor: 'gyro',
      timestamps: [1_700_000_002_000, 1_700_000_002_011],
    });
    expect(records.every((r) => r.key === 'phone-1')).toBe(true);
  });
});

describe('client: subscribeDrift', () => {
  it('yields the drift topic’s events decoded, in order, with their CloudEvent id and time and their position', async () => {
    const { log, client } = await setup();
    await publishDrift(log, 5);
    const seen = await take(client.subscribeDrift({ group: 'svc' }), 5);
    expect(seen.map((e) => e.id)).toEqual(['drift-0', 'drift-1', 'drift-2', 'drift-3', 'drift-4']);
    expect(seen.map((e) => e.offset)).toEqual([0, 1, 2, 3, 4]);
    const first: ReceivedEvent<DriftEvent> = seen[0];
    expect(first).toEqual({
      data: drift(0),
      id: 'drift-0',
      time: new Date(1_700_000_000_000).toISOString(),
      type: EVENT_TYPES.drift,
      source: 'activity-tracking/drift-detector',
      subject: 'user-0',
      topic: TOPICS.driftEvents,
      partition: 0,
      offset: 0,
    });
    expect(seen[4].data.widthAfter).toBe(36);
  });

  it('commits a record only after its loop body: nothing while a body runs, all once the loop asks for the next', async () => {
    const { log, client } = await setup();
    await publishDrift(log, 3);
    const committed = async () => (await log.committedOffsets('svc', TOPICS.driftEvents))[0];
    const during: number[] = [];
    const stream = client.subscribeDrift({ group: 'svc' });
    const loop = (async () => {
      for await (const event of stream) during.push(event.offset, await committed());
    })();
    // The loop now waits in next() for a fourth record: the batch of three is finished and committed.
    await waitFor(async () => (await committed()) === 3, 'the batch committed');
    expect(during).toEqual([0, -1, 1, -1, 2, -1]);
    await stream.return();
    await loop;
  });

  it('a break on event k: the group resumes at event k, nothing lost and nothing skipped', async () => {
    const { log, client } = await setup();
    await publishDrift(log, 10);
    // Four events finished, the loop breaks out on the fifth (k = 4).
    const first = await take(client.subscribeDrift({ group: 'svc' }), 5);
    expect(first.map((e) => e.id)).toEqual(['drift-0', 'drift-1', 'drift-2', 'drift-3', 'drift-4']);
    expect(await log.committedOffsets('svc', TOPICS.driftEvents)).toEqual([4]);
    await publishDrift(log, 2, 10);
    const rest = await take(client.subscribeDrift({ group: 'svc' }), 8);
    expect(rest.map((e) => e.id)).toEqual(Array.from({ length: 8 }, (_, i) => `drift-${i + 4}`));
  });

  it('a loop body that throws gets its record and the rest again; the records it finished are not', async () => {
    const { log, client, lines } = await setup();
    await publishDrift(log, 6);
    const crash = new Error('the service fell over');
    const finished: string[] = [];
    await expect(
      take(client.subscribeDrift({ group: 'svc' }), 6, (event, n) => {
        if (n === 3) throw crash;
        finished.push(event.id);
      }),
    ).rejects.toBe(crash);
    expect(finished).toEqual(['drift-0', 'drift-1', 'drift-2']);
    const again = await take(client.subscribeDrift({ group: 'svc' }), 3);
    expect(again.map((e) => e.id)).toEqual(['drift-3', 'drift-4', 'drift-5']);
    // A batch given back on stop is no failure of the transport.
    expect(lines.filter((l) => (l.level as number) >= 40)).toEqual([]);
  });

  it('a record that does not decode is skipped and reported to onInvalid; the loop goes on', async () => {
    const { log, client } = await setup();
    await publishDrift(log, 2);
    const producer = await log.producer();
    await producer.publish([
      { topic: TOPICS.driftEvents, key: null, value: Buffer.from('{'), headers: { ce_type: EVENT_TYPES.drift } },
    ]);
    await publishDrift(log, 1, 2);
    const invalid: InvalidRecord[] = [];
    const seen = await take(client.subscribeDrift({ group: 'svc', onInvalid: (r) => void invalid.push(r) }), 3);
    expect(seen.map((e) => e.offset)).toEqual([0, 1, 3]);
    expect(invalid).toHaveLength(1);
    expect(invalid[0]).toMatchObject({ topic: TOPICS.driftEvents, partition: 0, offset: 2, key: null });
    expect(invalid[0].error.reason).toBe('missing-attribute');
  });

  it('without onInvalid, a record that does not decode is a warning in the client’s log', async () => {
    const { log, client, lines } = await setup();
    const producer = await log.producer();
    const prediction = encodeEvent({
      type: EVENT_TYPES.prediction,
      source: 'x',
      data: EXAMPLES['dev.activity-tracking.prediction.v1'],
    });
    await producer.publish([{ topic: TOPICS.driftEvents, key: null, ...prediction }]);
    await publishDrift(log, 1, 1);
    const seen = await take(client.subscribeDrift({ group: 'svc' }), 1);
    expect(seen.map((e) => e.id)).toEqual(['drift-1']);
    const warning = lines.find((l) => l.msg === 'record skipped: it does not decode');
    expect(warning).toMatchObject({
      level: 40,
      component: 'client',
      reason: 'unknown-type',
      topic: TOPICS.driftEvents,
      partition: 0,
      offset: 0,
    });
  });

  it('an onInvalid that throws ends the loop with its error, and the record stays uncommitted', async () => {
    const { log, client } = await setup();
    await publishDrift(log, 1);
    const producer = await log.producer();
    await producer.publish([{ topic: TOPICS.driftEvents, key: null, value: Buffer.from('{'), headers: {} }]);
    const strict = new Error('refused');
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const e of client.subscribeDrift({
          group: 'svc',
          onInvalid: () => {
            throw strict;
          },
        }))
          seen.push(e.id);
      })(),
    ).rejects.toBe(strict);
    expect(seen).toEqual(['drift-0']);
    // drift-0 was finished (its loop asked for the next); the invalid record is delivered again.
    expect(await log.committedOffsets('svc', TOPICS.driftEvents)).toEqual([1]);
  });

  it('close() ends a loop waiting for events, and a closed client refuses new subscriptions', async () => {
    const { client } = await setup();
    const loop = take(client.subscribeDrift({ group: 'svc' }), 10);
    await client.close();
    expect(await loop).toEqual([]);
    expect(() => client.subscribeDrift({ group: 'svc' })).toThrow(/closed/);
  });

  it('refuses a subscription without a group, and one group for two topics', async () => {
    const { client } = await setup();
    expect(() => client.subscribeDrift({} as never)).toThrow(/consumer group/);
    client.subscribeDrift({ group: 'svc' });
    client.subscribeDrift({ group: 'svc' });
    expect(() => client.subscribePredictions({ group: 'svc' })).toThrow(/its own group \(e.g. "svc-predictions"\)/);
  });
});

describe('client: subscribePredictions', () => {
  it('yields every prediction once, in order per partition, and a new member of the group resumes after a break', async () => {
    const { log, client } = await setup();
    const devices = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const producer = await log.producer();
    const base = EXAMPLES['dev.activity-tracking.prediction.v1'];
    const prediction = (device: string, k: number): Prediction => ({
      ...base,
      device,
      window: { start: 1_700_000_000_000 + k * 2560, end: 1_700_000_002_540 + k * 2560 },
    });
    await producer.publish(
      Array.from({ length: 40 }, (_, i) => {
        const device = devices[i % devices.length];
        const k = Math.floor(i / devices.length);
        const encoded = encodeEvent({
          type: EVENT_TYPES.prediction,
          source: 'activity-tracking/predictor',
          id: `${device}:${k}`,
          subject: device,
          data: prediction(device, k),
        });
        return { topic: TOPICS.predictions, key: device, headers: encoded.headers, value: encoded.value };
      }),
    );
    // 15 finished, a break on the 16th: the second member starts with it.
    const first = (await take(client.subscribePredictions({ group: 'svc' }), 16)).slice(0, 15);
    const rest = await take(client.subscribePredictions({ group: 'svc' }), 25);
    const all = [...first, ...rest];
    expect(all.map((e) => e.id).sort()).toEqual(
      devices.flatMap((d) => Array.from({ length: 5 }, (_, k) => `${d}:${k}`)).sort(),
    );
    for (const p of new Set(all.map((e) => e.partition))) {
      const offsets = all.filter((e) => e.partition === p).map((e) => e.offset);
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    }
    for (const d of devices) {
      const starts = all.filter((e) => e.data.device === d).map((e) => e.data.window.start);
      expect(starts).toEqual([...starts].sort((a, b) => a - b));
    }
  });
});

describe('connect', () => {
  it('makes an embedded log with the topics under TOPIC_PREFIX, and refuses a bad prefix or transport', async () => {
    const client = await connect({ env: { TOPIC_PREFIX: 'team-a' } });
    cleanups.push(() => client.close());
    expect(client.transport.kind).toBe('embedded');
    expect(client.topics.driftEvents).toBe('team-a.drift-events');
    expect(await client.transport.endOffsets('team-a.drift-events')).toEqual([0]);
    await expect(connect({ env: { TOPIC_PREFIX: 'bad prefix' } })).rejects.toThrow(/TOPIC_PREFIX/);
    await expect(connect({ env: { TRANSPORT: 'carrier-pigeon' } })).rejects.toThrow(/choose one of/);
  });
});
