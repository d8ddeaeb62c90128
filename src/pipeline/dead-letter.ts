import { ActivityTrackingError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type { PipelineMetrics } from '../metrics/metrics.ts';
import { DecodeError, encodeEvent } from '../schemas/cloudevents.ts';
import { EVENT_TYPES } from '../schemas/registry.ts';
import { TOPICS, type TopicNames } from '../topics.ts';
import type { ConsumedRecord, OutgoingRecord } from '../transport/types.ts';

/**
 * Reason codes a consumer gives beyond the decode reasons of the CloudEvents
 * codec (docs/schemas.md lists them all).
 */
export type RecordReason =
  | 'out-of-order'
  | 'invalid-readings'
  | 'unsupported-sample-rate'
  | 'invalid-calibration'
  | 'unknown-feature-set'
  | 'wrong-feature-count'
  | 'invalid-value'
  | 'output-too-large'
  | 'processing-error';

export class RecordRejected extends ActivityTrackingError {
  readonly reason: RecordReason;
  constructor(reason: RecordReason, message: string) {
    super('RECORD_REJECTED', message, { context: { reason } });
    this.reason = reason;
  }
}

/** The reason code of an error that made a record unprocessable. */
export function reasonOf(err: unknown): string {
  if (err instanceof DecodeError || err instanceof RecordRejected) return err.reason;
  if (err instanceof ActivityTrackingError && err.code === 'INVALID_VALUE') return 'invalid-value';
  return 'processing-error';
}

/**
 * A dead-letter record for `record`: the reason, the message and the original
 * bytes (base64) and headers, keyed like the original so that a device's dead
 * letters stay in order.
 */
export function deadLetter(
  component: string,
  record: ConsumedRecord,
  err: unknown,
  topic: string = TOPICS.deadLetter,
): OutgoingRecord {
  const reason = reasonOf(err);
  const { headers, value } = encodeEvent({
    type: EVENT_TYPES.deadLetter,
    source: `activity-tracking/${component}`,
    id: `${record.topic}:${record.partition}:${record.offset}:dead-letter`,
    ...(record.key !== null ? { subject: record.key } : {}),
    data: {
      component,
      reason,
      message: err instanceof Error ? err.message : String(err),
      original: {
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        key: record.key,
        headers: record.headers,
        value: record.value.toString('base64'),
      },
    },
  });
  return { topic, key: record.key, headers, value };
}

export interface RecordLoop {
  component: string;
  deadLetterTopic: string;
  logger?: Logger | undefined;
  metrics?: PipelineMetrics | undefined;
}

/** The record loop of `component`: its logger is made once here, a child bound to the component. */
export function recordLoop(
  component: string,
  options: { topics?: TopicNames | undefined; logger?: Logger | undefined; metrics?: PipelineMetrics | undefined },
): RecordLoop {
  return {
    component,
    deadLetterTopic: (options.topics ?? TOPICS).deadLetter,
    logger: options.logger?.child({ component }),
    metrics: options.metrics,
  };
}

/**
 * Runs `handle` on each record of a batch; a record it throws on becomes a
 * dead letter (counted and logged) and the loop goes on with the next one.
 * With `ends`, pushes the number of outputs so far after each record
 * (BatchProcessor.process).
 */
export function processEach(
  loop: RecordLoop,
  records: readonly ConsumedRecord[],
  handle: (record: ConsumedRecord, out: OutgoingRecord[]) => void,
  ends?: number[],
): OutgoingRecord[] {
  const out: OutgoingRecord[] = [];
  for (const record of records) {
    try {
      handle(record, out);
    } catch (err) {
      out.push(deadLetterOf(loop, record, err));
    }
    ends?.push(out.length);
  }
  return out;
}

/** The dead letter of `record` in `loop`, counted and logged. */
export function deadLetterOf(loop: RecordLoop, record: ConsumedRecord, err: unknown): OutgoingRecord {
  const reason = reasonOf(err);
  loop.metrics?.deadLetters.inc({ component: loop.component, reason });
  loop.logger?.warn(
    { err, reason, topic: record.topic, partition: record.partition, offset: record.offset },
    'record dead-lettered',
  );
  return deadLetter(loop.component, record, err, loop.deadLetterTopic);
}
