import { describe, expect, it } from 'vitest';
import { requestChunks } from '../../src/transport/kafka/records.ts';
import type { OutgoingRecord } from '../../src/transport/types.ts';

const record = (i: number, bytes: number): OutgoingRecord => ({
  topic: 't',
  key: `device-${i}`,
  value: Buffer.alloc(bytes, i),
  headers: { ce_id: `id-${i}` },
});

describe('Kafka publish requests', () => {
  it('split a large publish, in order, into requests a broker accepts', () => {
    const records = Array.from({ length: 170 }, (_, i) => record(i, 6_000)); // about 1 MB: over the default limit
    const chunks = requestChunks(records);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.flat()).toEqual(records);
    for (const c of chunks) expect(c.reduce((n, r) => n + r.value.length, 0)).toBeLessThanOrEqual(512 * 1024);
  });

  it('send a record larger than the budget alone, and a small publish in one request', () => {
    const big = record(1, 600_000);
    expect(requestChunks([record(0, 10), big, record(2, 10)])).toEqual([[record(0, 10)], [big], [record(2, 10)]]);
    expect(requestChunks([record(0, 10), record(1, 10)])).toHaveLength(1);
    expect(requestChunks([])).toEqual([]);
  });
});
