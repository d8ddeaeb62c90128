import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { drained } from '../../src/cli/drain.ts';
import { InvalidOptionError } from '../../src/errors.ts';
import type { Checkpointable, StreamSnapshot } from '../../src/pipeline/checkpoint.ts';
import { type BatchProcessor, StreamConsumer } from '../../src/pipeline/stream-consumer.ts';
import { alreadyApplied, markApplied, StreamStates, type Tracked } from '../../src/pipeline/stream-state.ts';
import { mulberry32 } from '../../src/random.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import { readTopic } from '../../src/transport/read.ts';
import type { OutgoingRecord, RecordBatch, SubscribeOptions, Transport } from '../../src/transport/types.ts';
import { waitFor } from '../support/wait.ts';

/** A stream's state: a running FNV-1a hash of its values and their count, so that any divergence shows. */
interface Chain extends Tracked {
  hash: number;
  count: number;
}

/**
 * One output per input record, `offset:hash:count` of its stream after it: an output with a state that
 * differs from an uninterrupted run's is not among that run's outputs.
 */
class ChainProcessor implements BatchProcessor, Checkpointable {
  readonly states = new StreamStates<Chain>(
    (s) => Buffer.from(JSON.stringify({ hash: s.hash, count: s.count })),
    (bytes) => JSON.parse(Buffer.from(bytes).toString()) as { hash: number; count: number },
  );
  constructor(readonly output: string) {}
  process(batch: RecordBatch): OutgoingRecord[] {
    const out: OutgoingRecord[] = [];
    for (const r of batch.records) {
      const key = r.key!;
      const s =
        this.states.get(key, batch.partition) ??
        this.states.start(key, { hash: 0x811c9dc5, count: 0 }, batch.partition);
      if (alreadyApplied(s, r.offset)) continue;
      markApplied(s, r.offset);
      s.hash = Math.imul(s.hash ^ Number(r.value.toString()), 0x01000193) >>> 0;
      s.count++;
      out.push({ topic: this.output, key, value: Buffer.from(`${r.offset}:${s.hash}:${s.count}`) });
    }
    return out;
  }
  onRevoked(): void {}
  takeCheckpoint(partition: number): StreamSnapshot[] {
    return this.states.takeCheckpoint(partition);
  }
  restore(partition: number, snapshots: StreamSnapshot[]): void {
    this.states.restore(partition, snapshots);
  }
  changedStreams(partition: number): string[] {
    return this.states.changedStreams(partition);
  }
  snapshotStream(key: string): StreamSnapshot | undefined {
    return this.states.snapshotStream(key);
  }
}

/**
 * The log as a process that dies right after the batch holding offset `crashAt`: that batch's outputs and
 * checkpoint records are out but its offsets are not committed (commits lag), and no revoke hook runs (so
 * no last checkpoint is written). Nothing after it is processed.
 */
function crashing(log: EmbeddedLog, crashAt: number): { transport: Transport; crashed: () => boolean } {
  let crashed = false;
  const subscribe = (options: SubscribeOptions) =>
    log.subscribe({
      ...options,
      handler: async (batch, context) => {
        if (crashed) throw new Error('the process is dead');
        await options.handler(batch, context);
        if (batch.records[batch.records.length - 1].offset < crashAt) return;
        crashed = true;
        throw new Error('crash before the commit');
      },
      onRevoked: async (partitions) => {
        if (!crashed) await options.onRevoked?.(partitions);
      },
    });
  const transport = new Proxy(log, {
    get: (target, p) => {
      if (p === 'subscribe') return subscribe;
      const v = Reflect.get(target, p);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { transport, crashed: () => crashed };
}

const KEYS = 10;
const RECORDS = 400;
const INTERVAL = 40;

async function scenario(exactlyOnce: boolean, end: { crashAt: number } | { stopAfter: number }) {
  const log = new EmbeddedLog({ retryBackoffMs: 5 });
  const id = randomUUID();
  const [input, output, state] = [`in-${id}`, `out-${id}`, `state-${id}`];
  await log.ensureTopics([
    { topic: input, partitions: 1 },
    { topic: output, partitions: 1 },
    { topic: state, partitions: 1, compacted: true },
  ]);
  const random = mulberry32(11);
  const records = Array.from({ length: RECORDS }, () => ({
    topic: input,
    key: `k${Math.floor(random() * KEYS)}`,
    value: Buffer.from(String(Math.floor(random() * 1e6))),
  }));
  const reference = new ChainProcessor(output)
    .process({
      topic: input,
      partition: 0,
      records: records.map((r, offset) => ({ ...r, partition: 0, offset, headers: {}, timestamp: 0 })),
      highWatermark: RECORDS,
    })
    .map((o) => o.value.toString());
  const groupId = `g-${id}`;
  // One-stream slices and batches of 4: a checkpoint of the ~10 changed streams spans about 10 batches,
  // each bringing more records for the same streams.
  const consumer = (transport: Transport) =>
    new StreamConsumer({
      component: 'test',
      transport,
      groupId,
      topics: [input],
      processor: new ChainProcessor(output),
      maxBatchSize: 4,
      exactlyOnce,
      checkpoint: { topic: state, interval: INTERVAL, sliceBytes: 1 },
    });
  const producer = await log.producer();
  // A checkpoint under way, or cut short: snapshots after the last marker.
  const underWay = async () => {
    const keys: (string | null)[] = [];
    for await (const r of readTopic(log, state)) keys.push(r.key);
    return keys.length - 1 - keys.lastIndexOf('\u0000checkpoint') > 0;
  };
  let spreadAtEnd = false;
  if ('crashAt' in end) {
    await producer.publish(records);
    const { transport, crashed } = crashing(log, end.crashAt);
    const a = consumer(transport);
    await a.start();
    await waitFor(crashed, 'the first consumer to crash');
    await a.stop();
    spreadAtEnd = await underWay();
  } else {
    await producer.publish(records.slice(0, end.stopAfter));
    const a = consumer(log);
    await a.start();
    await drained(log, [[groupId, input]], 10_000);
    spreadAtEnd = await underWay();
    await a.stop();
    await producer.publish(records.slice(end.stopAfter));
  }
  const b = consumer(log);
  await b.start();
  await drained(log, [[groupId, input]], 10_000);
  await b.stop();
  await producer.close();
  const outputs: string[] = [];
  for await (const r of readTopic(log, output)) outputs.push(r.value.toString());
  await log.close();
  return { reference, outputs, spreadAtEnd };
}

describe('a checkpoint spread over batches', () => {
  it.each([false, true])(
    'restores, after a crash during it, to a state that continues as an uninterrupted run (exactlyOnce %s)',
    async (exactlyOnce) => {
      let cutShort = 0;
      for (const crashAt of [45, 93, 131, 178, 222, 259, 301, 347]) {
        const { reference, outputs, spreadAtEnd } = await scenario(exactlyOnce, { crashAt });
        if (spreadAtEnd) cutShort++;
        // Every output of the uninterrupted run, and none with another state; the crashed batch may come
        // out twice at least once, never with exactly-once.
        expect(new Set(outputs)).toEqual(new Set(reference));
        if (exactlyOnce) expect(outputs).toHaveLength(reference.length);
      }
      // The crashes fell in checkpoints under way (snapshots after the last marker), the case under test.
      expect(cutShort).toBeGreaterThanOrEqual(6);
    },
  );

  it('is replaced by a whole one when the partition is given up during it: the next owner continues exactly', async () => {
    for (const stopAfter of [130, 205]) {
      const { reference, outputs, spreadAtEnd } = await scenario(false, { stopAfter });
      expect(spreadAtEnd).toBe(true);
      expect(outputs).toEqual(reference);
    }
  });

  it('refuses a slice size that is not a positive number of bytes', () => {
    for (const sliceBytes of [0, -1, 1.5])
      expect(
        () =>
          new StreamConsumer({
            component: 'test',
            transport: new EmbeddedLog(),
            groupId: 'g',
            topics: ['in'],
            processor: new ChainProcessor('out'),
            checkpoint: { topic: 'state', sliceBytes },
          }),
      ).toThrow(InvalidOptionError);
  });
});
