import { createHash } from 'node:crypto';
import { HttpError, isJsonMediaType } from '../http/request.ts';
import { type ContentType, DecodeError, decodeEvent, READINGS_BINARY_CONTENT_TYPE } from '../schemas/cloudevents.ts';
import { readingsId, timedReadingsId } from '../schemas/event-ids.ts';
import { dataSchemaUri, EVENT_TYPES } from '../schemas/registry.ts';
import type { SensorReadings, SensorReadingsV2 } from '../schemas/types.gen.ts';
import type { Headers, OutgoingRecord } from '../transport/types.ts';
import type { ReadingsAck } from './types.ts';

const V1 = EVENT_TYPES.sensorReadings;
const V2 = EVENT_TYPES.sensorReadingsV2;
/** The event types a client may send; the first is the default when it names none. */
export const READINGS_TYPES = [V1, V2] as const;
export type ReadingsType = (typeof READINGS_TYPES)[number];
const DATASCHEMA = { [V1]: dataSchemaUri(V1), [V2]: dataSchemaUri(V2) } as const;

/** A validated batch of either readings type. */
export type Readings = { type: typeof V1; data: SensorReadings } | { type: typeof V2; data: SensorReadingsV2 };

/** Readings the edge refused; `reason` is the decoder's reason code (docs/schemas.md). */
export class ReadingsRejected extends HttpError {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(400, 'invalid_readings', message);
  }
}

/** The body's media type, or 415. */
export function readingsMediaType(header: string | undefined): ContentType {
  if (isJsonMediaType(header)) return 'application/json';
  if (header !== undefined && header.split(';')[0].trim().toLowerCase() === READINGS_BINARY_CONTENT_TYPE)
    return READINGS_BINARY_CONTENT_TYPE;
  throw new HttpError(
    415,
    'unsupported_media_type',
    `content-type must be application/json or ${READINGS_BINARY_CONTENT_TYPE}, got ${header === undefined ? 'none' : `"${header}"`}`,
  );
}

/**
 * The readings type a client names (the `ce-type` header of the CloudEvents HTTP binding, or the stream's
 * `type` query parameter), v1 when it names none, or 400.
 */
export function readingsType(value: string | string[] | undefined, name = 'ce-type'): ReadingsType {
  if (value === undefined) return V1;
  const type = typeof value === 'string' ? value.trim() : undefined;
  if (type === V1 || type === V2) return type;
  throw new HttpError(
    400,
    'unsupported_event_type',
    `${name} must be ${V1} (the default) or ${V2}, got ${JSON.stringify(value)}`,
  );
}

/**
 * Decodes and validates a body exactly as every consumer will (decodeEvent: the schema, finite numbers,
 * labels as many as samples, the binary layout), so bad readings are refused here and never reach the topic.
 */
export function decodeReadings(type: ReadingsType, contentType: ContentType, body: Buffer, maxBytes: number): Readings {
  const headers: Headers = {
    ce_specversion: '1.0',
    ce_id: 'gateway',
    ce_source: 'gateway',
    ce_type: type,
    'content-type': contentType,
  };
  try {
    return decodeEvent(headers, body, { accept: [type], maxBytes }) as Readings;
  } catch (err) {
    if (err instanceof DecodeError) throw new ReadingsRejected(err.reason, err.message);
    throw err;
  }
}

/** Epoch ms of a batch's first sample: v1's timestamp, v2's first timestamp or start. */
function firstTime(r: Readings): number {
  if (r.type === V1) return r.data.timestamp;
  return r.data.timestamps ? r.data.timestamps[0] : r.data.start!;
}

/**
 * The record the consumers read: the client's validated bytes as the value (no second encoding), the
 * CloudEvents attributes as headers, keyed by device. `ce_id` is the id the app-side producer gives the
 * same readings (`<device>:<sequence>`, or `<device>:<sensor>:<first time>` for v2, which has no
 * sequence), so a batch sent twice is recognizable downstream too.
 */
export function readingsRecord(
  topic: string,
  source: string,
  contentType: ContentType,
  r: Readings,
  body: Buffer,
): OutgoingRecord {
  const { device } = r.data;
  const headers: Headers = {
    ce_specversion: '1.0',
    ce_id: r.type === V1 ? readingsId(device, r.data.sequence) : timedReadingsId(device, r.data.sensor, firstTime(r)),
    ce_source: source,
    ce_type: r.type,
    ce_subject: device,
    ce_dataschema: DATASCHEMA[r.type],
    'content-type': contentType,
  };
  // The schemas bound times below only; a date past year 275760 has no RFC 3339 form.
  const time = new Date(firstTime(r));
  if (!Number.isNaN(time.getTime())) headers.ce_time = time.toISOString();
  return { topic, key: device, value: body, headers };
}

/** The acknowledgement of a batch; v1's shape is unchanged, v2's names its type and first time instead of a sequence. */
export function readingsAck(r: Readings, idempotencyKey: string | undefined): ReadingsAck {
  const key = idempotencyKey === undefined ? {} : { idempotencyKey };
  const samples = r.data.samples.length;
  if (r.type === V1) return { ok: true, device: r.data.device, sequence: r.data.sequence, samples, ...key };
  return { ok: true, type: V2, device: r.data.device, sensor: r.data.sensor, time: firstTime(r), samples, ...key };
}

/**
 * The dedupe key of a stream message sent without a client key: what identifies a resent batch, `ws:<sequence>`
 * for v1, `ws:<sensor>:<first time>` for v2 (an acc and a gyro message may start at the same time).
 */
export function streamKey(r: Readings): string {
  return r.type === V1 ? `ws:${r.data.sequence}` : `ws:${r.data.sensor}:${firstTime(r)}`;
}

/** Identifies a body for the idempotency window: a retry must send the same bytes, as the same type. */
export function bodyDigest(type: ReadingsType, contentType: ContentType, body: Buffer): string {
  return createHash('sha256')
    .update(type)
    .update('\n')
    .update(contentType)
    .update('\n')
    .update(body)
    .digest('base64url');
}
