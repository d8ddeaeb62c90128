import { createHash } from 'node:crypto';
import { HttpError, isJsonMediaType } from '../http/request.ts';
import { type ContentType, DecodeError, decodeEvent, READINGS_BINARY_CONTENT_TYPE } from '../schemas/cloudevents.ts';
import { dataSchemaUri, EVENT_TYPES } from '../schemas/registry.ts';
import type { SensorReadings } from '../schemas/types.gen.ts';
import type { Headers, OutgoingRecord } from '../transport/types.ts';

const TYPE = EVENT_TYPES.sensorReadings;
const ACCEPT = [TYPE] as const;
const DATASCHEMA = dataSchemaUri(TYPE);

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
 * Decodes and validates a body exactly as every consumer will (decodeEvent: the schema, finite numbers,
 * labels as many as samples, the binary layout), so bad readings are refused here and never reach the topic.
 */
export function decodeReadings(contentType: ContentType, body: Buffer, maxBytes: number): SensorReadings {
  const headers: Headers = {
    ce_specversion: '1.0',
    ce_id: 'gateway',
    ce_source: 'gateway',
    ce_type: TYPE,
    'content-type': contentType,
  };
  try {
    return decodeEvent(headers, body, { accept: ACCEPT, maxBytes }).data;
  } catch (err) {
    if (err instanceof DecodeError) throw new ReadingsRejected(err.reason, err.message);
    throw err;
  }
}

/**
 * The record the consumers read: the client's validated bytes as the value (no second encoding), the
 * CloudEvents attributes as headers, keyed by device. `ce_id` is `<device>:<sequence>`, the id the
 * app-side producer gives the same readings, so a batch sent twice is recognizable downstream too.
 */
export function readingsRecord(
  topic: string,
  source: string,
  contentType: ContentType,
  data: SensorReadings,
  body: Buffer,
): OutgoingRecord {
  const headers: Headers = {
    ce_specversion: '1.0',
    ce_id: `${data.device}:${data.sequence}`,
    ce_source: source,
    ce_type: TYPE,
    ce_subject: data.device,
    ce_dataschema: DATASCHEMA,
    'content-type': contentType,
  };
  // The schema bounds the timestamp below only; a date past year 275760 has no RFC 3339 form.
  const time = new Date(data.timestamp);
  if (!Number.isNaN(time.getTime())) headers.ce_time = time.toISOString();
  return { topic, key: data.device, value: body, headers };
}

/** Identifies a body for the idempotency window: a retry must send the same bytes. */
export function bodyDigest(contentType: ContentType, body: Buffer): string {
  return createHash('sha256').update(contentType).update('\n').update(body).digest('base64url');
}
