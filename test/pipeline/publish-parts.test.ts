import { describe, expect, it } from 'vitest';
import { publishParts } from '../../src/pipeline/publish-parts.ts';
import type { ConsumedRecord, OutgoingRecord } from '../../src/transport/types.ts';

const input = (offset: number): ConsumedRecord => ({
  topic: 'in',
  partition: 0,
  offset,
  key: 'k',
  value: Buffer.alloc(1),
  headers: {},
  timestamp: 0,
});
const output = (bytes: number, tag: number): OutgoingRecord => ({
  topic: 'out',
  key: null,
  value: Buffer.alloc(bytes, tag),
});
const letter = (record: ConsumedRecord, bytes: number) => ({
  topic: 'dead',
  key: null,
  value: Buffer.from(`${record.offset}:${bytes}`),
});

describe('publishParts', () => {
  it('cuts outputs at input boundaries into parts under the budget, each ending at its last input', () => {
    const inputs = [10, 11, 12, 13].map(input);
    // Input 10 → two outputs of 40 bytes, 11 → none, 12 → one of 50, 13 → one of 30.
    const outputs = [output(40, 0), output(40, 1), output(50, 2), output(30, 3)];
    const parts = publishParts(inputs, outputs, [2, 2, 3, 4], 100, letter);
    expect(parts).toEqual([
      { records: outputs.slice(0, 2), lastOffset: 11 },
      { records: outputs.slice(2), lastOffset: 13 },
    ]);
    expect(parts.flatMap((p) => p.records)).toEqual(outputs);
  });

  it('keeps one part when the outputs fit or cannot be attributed to inputs', () => {
    const inputs = [0, 1].map(input);
    const outputs = [output(80, 0), output(80, 1)];
    expect(publishParts(inputs, outputs, [1, 2], 1000, letter)).toEqual([{ records: outputs, lastOffset: 1 }]);
    expect(publishParts(inputs, outputs, undefined, 100, letter)).toEqual([{ records: outputs, lastOffset: 1 }]);
    expect(publishParts(inputs, outputs, [2], 100, letter)).toEqual([{ records: outputs, lastOffset: 1 }]);
  });

  it('replaces the outputs of one input that alone exceed the budget by its dead letter', () => {
    const inputs = [0, 1, 2].map(input);
    const outputs = [output(60, 0), output(70, 1), output(70, 2), output(60, 3)];
    const parts = publishParts(inputs, outputs, [1, 3, 4], 100, letter);
    expect(parts.map((p) => p.lastOffset)).toEqual([1, 2]);
    expect(parts[0].records).toEqual([outputs[0], letter(inputs[1], 140)]);
    expect(parts[1].records).toEqual([outputs[3]]);
  });
});
