import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type Checkpointable, checkpointRecords, type StreamSnapshot } from '../../src/pipeline/checkpoint.ts';
import { type BatchProcessor, StreamConsumer } from '../../src/pipeline/stream-consumer.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import type { RecordBatch } from '../../src/transport/types.ts';
import { waitFor } from '../support/wait.ts';

/** A processor whose process() finishes on a later turn of the event loop, as one that does I/O would. */
class AsyncProcessor implements BatchProcessor, Checkpointable {
  readonly processed: number[] = [];
  processedWhenAssigned: number[] | undefined;
  async process(batch: RecordBatch) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (const r of batch.records) this.processed.push(r.offset);
    return [];
  }
  onAssigned() {
    this.processedWhenAssigned = [...this.processed];
  }
  takeCheckpoint(): StreamSnapshot[] {
    return [];
  }
  restore(): void {}
}

describe('StreamConsumer restore', () => {
  it('awaits the processor on the records it replays after the checkpoint, before onAssigned and live batches', async () => {
    const log = new EmbeddedLog();
    const input = `in-${randomUUID()}`;
    const state = `state-${randomUUID()}`;
    const groupId = `g-${randomUUID()}`;
    await log.ensureTopics([
      { topic: input, partitions: 1 },
      { topic: state, partitions: 1, compacted: true },
    ]);
    const producer = await log.producer();
    await producer.publish(
      Array.from({ length: 10 }, (_, i) => ({ topic: input, key: `k${i}`, value: Buffer.from('x') })),
    );
    // The group has committed all 10 records, the last complete checkpoint covers offsets 0..3: 4..9 are replayed.
    const committer = await log.subscribe({ groupId, topics: [input], handler: async () => {} });
    await waitFor(async () => (await log.committedOffsets(groupId, input))[0] === 10, 'the group to commit 10 records');
    await committer.stop();
    const cp = checkpointRecords(state, 0, [], 3);
    await producer.publish([...cp.snapshots, cp.marker]);

    const processor = new AsyncProcessor();
    const consumer = new StreamConsumer({
      component: 'test',
      transport: log,
      groupId,
      topics: [input],
      processor,
      checkpoint: { topic: state, interval: 100 },
    });
    await consumer.start();
    try {
      await producer.publish([{ topic: input, key: 'live', value: Buffer.from('x') }]);
      await waitFor(() => processor.processed.includes(10), 'the live record');
      expect(processor.processedWhenAssigned).toEqual([4, 5, 6, 7, 8, 9]);
      expect(processor.processed).toEqual([4, 5, 6, 7, 8, 9, 10]);
    } finally {
      await consumer.stop();
      await producer.close();
      await log.close();
    }
  });
});
