import type { OutgoingRecord } from './types.ts';

/**
 * Bytes of keys, values and header names and values of `records`: what a publish weighs against a log's
 * request limit (Kafka's `message.max.bytes`, 1 MiB by default, applies to the record batch of a
 * partition; the batch's framing adds some 70 bytes per record on top).
 */
export function publishBytes(records: readonly OutgoingRecord[], from = 0, to = records.length): number {
  let bytes = 0;
  for (let i = from; i < to; i++) {
    const r = records[i];
    bytes += r.value.length + (r.key === null ? 0 : Buffer.byteLength(r.key));
    if (r.headers) for (const name in r.headers) bytes += name.length + Buffer.byteLength(r.headers[name]);
  }
  return bytes;
}
