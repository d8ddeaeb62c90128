import { publishBytes } from '../transport/record-size.ts';
import type { ConsumedRecord, OutgoingRecord } from '../transport/types.ts';

/** One publish of a batch's outputs: the outputs of a run of consecutive input records. */
export interface PublishPart {
  records: OutgoingRecord[];
  /** Offset of the last input record of the run: committed once the part is acknowledged. */
  lastOffset: number;
}

/**
 * A batch's outputs cut, at input-record boundaries, into parts of at most `maxBytes` (publishBytes), in
 * order. `ends[i]` is the number of outputs after input record i (BatchProcessor.process); without a
 * consistent `ends` the outputs cannot be attributed and stay one part. A record whose own outputs are
 * over `maxBytes` would be refused however the batch is cut: they are replaced by `tooLarge(record, bytes)`
 * (a dead letter).
 */
export function publishParts(
  inputs: readonly ConsumedRecord[],
  outputs: OutgoingRecord[],
  ends: readonly number[] | undefined,
  maxBytes: number,
  tooLarge: (record: ConsumedRecord, bytes: number) => OutgoingRecord,
): PublishPart[] {
  const lastOffset = inputs[inputs.length - 1].offset;
  if (!ends || ends.length !== inputs.length || ends[ends.length - 1] !== outputs.length)
    return [{ records: outputs, lastOffset }];
  if (publishBytes(outputs) <= maxBytes) return [{ records: outputs, lastOffset }];
  const parts: PublishPart[] = [];
  let part: OutgoingRecord[] = [];
  let bytes = 0;
  let begin = 0;
  for (let i = 0; i < inputs.length; i++) {
    const end = ends[i];
    let size = publishBytes(outputs, begin, end);
    let own: OutgoingRecord[] | undefined;
    if (size > maxBytes) {
      own = [tooLarge(inputs[i], size)];
      size = publishBytes(own);
    }
    if (part.length > 0 && bytes + size > maxBytes) {
      parts.push({ records: part, lastOffset: inputs[i - 1].offset });
      part = [];
      bytes = 0;
    }
    if (own) part.push(...own);
    else for (let o = begin; o < end; o++) part.push(outputs[o]);
    bytes += size;
    begin = end;
  }
  parts.push({ records: part, lastOffset });
  return parts;
}
