import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { drained } from '../../src/cli/drain.ts';
import type { Checkpointable, StreamSnapshot } from '../../src/pipeline/checkpoint.ts';
import { type BatchProcessor, StreamConsumer } from '../../src/pipeline/stream-consumer.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import type { RecordBatch, Transport } from '../../src/transport/types.ts';
import { testKafka } from '../setup/services.ts';
import { waitFor } from '../support/wait.ts';

/** A processor whose state is one large blob per key: checkpoints far over Kafka's 1 MB request limit. */
class BlobProcessor implements BatchProcessor, Checkpointable {
  readonly state = new Map<string, { bytes: Uint8Array; offset: number; partition: number }>();
  restored: StreamSnapshot[] = [];
  process(batch: RecordBatch) {
    for (const r of batch.records) {
      this.state.set(r.key!, {
        bytes: new Uint8Array(randomBytes(200_000)),
        offset: r.offset,
        partition: batch.partition,
      });
    }
    return [];
  }
  takeCheckpoint(partition: number): StreamSnapshot[] {
    return [...this.state]
      .filter(([, s]) => s.partition === partition)
      .map(([key, s]) => ({ key, bytes: s.bytes, offset: s.offset }));
  }
  restore(_partition: number, snapshots: StreamSnapshot[]): void {
    this.restored.push(...snapshots);
  }
}

describe.each([
  ['embedded', async (): Promise<Transport> => new EmbeddedLog()],
  ['kafka', async (): Promise<Transport> => testKafka('checkpoint-test')],
])('state checkpoints on %s', (_name, makeTransport) => {
  it('writes a 4 MB checkpoint in requests the broker accepts and restores it byte for byte', {
    timeout: 120_000,
  }, async () => {
    const transport = await makeTransport();
    try {
      const id = randomUUID();
      const input = `in-${id}`;
      const state = `state-${id}`;
      await transport.ensureTopics([
        { topic: input, partitions: 1 },
        { topic: state, partitions: 1, compacted: true },
      ]);
      const producer = await transport.producer();
      await producer.publish(
        Array.from({ length: 20 }, (_, i) => ({ topic: input, key: `k${i}`, value: Buffer.from('x') })),
      );
      await producer.close();
      const groupId = `g-${id}`;
      const first = new BlobProcessor();
      const a = new StreamConsumer({
        component: 'test',
        transport,
        groupId,
        topics: [input],
        processor: first,
        checkpoint: { topic: state, interval: 20 },
      });
      await a.start();
      await drained(transport, [[groupId, input]], 60_000);
      await a.stop();
      const second = new BlobProcessor();
      const b = new StreamConsumer({
        component: 'test',
        transport,
        groupId,
        topics: [input],
        processor: second,
        checkpoint: { topic: state, interval: 20 },
      });
      await b.start();
      await waitFor(() => second.restored.length >= 20, 'the second instance to restore 20 snapshots', {
        timeoutMs: 30_000,
        intervalMs: 100,
      });
      await b.stop();
      expect(second.restored).toHaveLength(20);
      for (const snap of second.restored) {
        expect(Buffer.from(snap.bytes).equals(Buffer.from(first.state.get(snap.key)!.bytes))).toBe(true);
        expect(snap.offset).toBe(first.state.get(snap.key)!.offset);
      }
    } finally {
      await transport.close();
    }
  });
});
