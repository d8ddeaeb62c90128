import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { TimeoutError, TransportError } from '../../errors.ts';
import type { ConsumedRecord } from '../types.ts';
import type { KafkaAdmin } from './admin.ts';
import { toRecord } from './records.ts';

/**
 * Reads records with from <= offset <= to of one partition through a throw-away group (deleted after),
 * as kafkajs has no plain assign-and-seek consumer.
 */
export async function readRange(
  kafka: Kafka,
  admin: KafkaAdmin,
  topic: string,
  partition: number,
  from: number,
  to: number,
): Promise<ConsumedRecord[]> {
  if (to < from) return [];
  const [end] = [(await admin.endOffsets(topic))[partition]];
  if (end === undefined)
    throw new TransportError(`partition ${partition} out of range for topic "${topic}"`, { retriable: false });
  const last = Math.min(to, end - 1);
  if (last < from) return [];
  const groupId = `activity-tracking-read-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  const out: ConsumedRecord[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const others = (payload.memberAssignment[topic] ?? []).filter((p) => p !== partition);
      if (others.length > 0) consumer.pause([{ topic, partitions: others }]);
    });
    // Transaction markers have offsets but are never delivered: the read is done when the consumer's
    // position passes `last`, whether the record there is data or a marker.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.partition === partition && Number(payload.lastOffset) >= last) finish();
    });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (batch.partition !== partition) return;
        for (const message of batch.messages) {
          const offset = Number(message.offset);
          if (offset < from) continue;
          if (offset > last) break;
          out.push(toRecord(topic, partition, message));
        }
        if (Number(batch.lastOffset()) >= last) finish();
      },
    });
    consumer.seek({ topic, partition, offset: String(from) });
    const timeoutMs = 30_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      finished,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new TimeoutError(`reading ${topic}/${partition} [${from}, ${last}] took over ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect();
    await admin.deleteGroup(groupId);
  }
  // Compacted topics may have holes; callers get what the log still holds, in order.
  return out;
}
