import { type ActivityTrackingError, RecordTooLargeError, TransportError } from '../../errors.ts';
import { isRetriable } from '../../retry.ts';
import { publishBytes } from '../record-size.ts';
import type { OutgoingRecord } from '../types.ts';

/** kafkajs protocol error types for a produce request the broker refuses for its size (Kafka's error codes 10, 18). */
const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

/**
 * The port's error for a failed produce request. A request over the broker's size limit is refused the same
 * way every time, so it becomes a RecordTooLargeError (never retriable; the consumer stops redelivering it),
 * found by the kafkajs error's `type` anywhere in the cause chain, not by its message. Anything else is a
 * TransportError, retriable when kafkajs says so (a broker unreachable, a leader moved).
 */
export function publishError(err: unknown, records: readonly OutgoingRecord[]): ActivityTrackingError {
  const message = (err as Error).message;
  const type = tooLargeType(err);
  if (type !== undefined) {
    const bytes = publishBytes(records);
    return new RecordTooLargeError(
      `the broker refused ${records.length} records (${bytes} bytes of keys, values and headers) as too large (${type}; broker setting message.max.bytes): ${message}`,
      { cause: err, context: { records: records.length, bytes } },
    );
  }
  return new TransportError(`publishing ${records.length} records failed: ${message}`, {
    cause: err,
    retriable: isRetriable(err),
  });
}

/**
 * The kafkajs error type when `err` or one of its causes is a refusal for size, or a RecordTooLargeError.
 * kafkajs's retry wraps a handler's error and keeps only its cause, so a consumer crash is recognized
 * by the protocol error underneath as well as by our class.
 */
export function tooLargeType(err: unknown): string | undefined {
  let e = err as { type?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 8; depth++) {
    if (e instanceof RecordTooLargeError) return 'RECORD_TOO_LARGE';
    if (typeof e.type === 'string' && TOO_LARGE.has(e.type)) return e.type;
    e = e.cause as typeof e;
  }
  return undefined;
}
