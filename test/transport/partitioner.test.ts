import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { partitionForKey } from '../../src/transport/partitioner.ts';

describe('key partitioner', () => {
  it('maps keys to the same partitions as the Kafka default partitioner', () => {
    const kafkajs = Partitioners.DefaultPartitioner();
    for (const count of [1, 3, 7, 12]) {
      const partitionMetadata = Array.from({ length: count }, (_, partitionId) => ({
        partitionId,
        leader: 0,
        partitionErrorCode: 0,
        replicas: [0],
        isr: [0],
      }));
      for (let i = 0; i < 500; i++) {
        const key = i % 3 === 0 ? `device-${i}` : `user-${i}-é-${'x'.repeat(i % 11)}`;
        const expected = kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } });
        expect(partitionForKey(key, count)).toBe(expected);
      }
    }
  });
});
