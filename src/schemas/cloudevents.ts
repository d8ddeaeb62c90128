import { randomUUID } from 'node:crypto';
import { InvalidRecordError } from '../errors.ts';
import type { Headers } from '../transport/types.ts';
import { dataSchemaUri, type EventDataMap, type EventType, isEventType, parseType, validatorOf } from './registry.ts';

/**
 * CloudEvents 1.0 in Kafka **binary content mode**: the attributes travel as
 * `ce_*` headers, the record value is the event data alone (JSON), and
 * `content-type` names its media type. Consumers route and validate by
 * `ce_type` without parsing the body first; the body stays as small as it can.
 * (docs/schemas.md)
 */

/** Stable reason codes of records that cannot be decoded; the dead-letter topic carries them. */
export const DECODE_REASONS = [
  'oversized',
  'missing-attribute',
  'bad-specversion',
  'unknown-type',
  'unknown-version',
  'bad-content-type',
  'invalid-utf8',
  'not-json',
  'schema-violation',
  'non-finite',
  'length-mismatch',
] as const;
export type DecodeReason = (typeof DECODE_REASONS)[number];

export class DecodeError extends InvalidRecordError {
  readonly reason: DecodeReason;
  constructor(reason: DecodeReason, message: string) {
    super(message, { context: { reason } });
    this.reason = reason;
  }
}

export interface EventAttributes {
  id: string;
  source: string;
  type: string;
  specversion: '1.0';
  time: string;
  subject?: string;
  dataschema?: string;
  datacontenttype: string;
}

export interface EncodeInput<T extends EventType> {
  type: T;
  source: string;
  data: EventDataMap[T];
  subject?: string;
  /** Deterministic ids make redelivered outputs recognizable downstream. @defaultValue a random UUID */
  id?: string;
  time?: Date | string;
  /** Extra headers (not CloudEvents attributes). */
  headers?: Headers;
}

const JSON_TYPE = 'application/json';

export function encodeEvent<T extends EventType>(input: EncodeInput<T>): { headers: Headers; value: Buffer } {
  const time =
    input.time === undefined
      ? new Date().toISOString()
      : typeof input.time === 'string'
        ? input.time
        : input.time.toISOString();
  const headers: Headers = {
    ...input.headers,
    ce_specversion: '1.0',
    ce_id: input.id ?? randomUUID(),
    ce_source: input.source,
    ce_type: input.type,
    ce_time: time,
    ce_dataschema: dataSchemaUri(input.type),
    'content-type': JSON_TYPE,
  };
  if (input.subject !== undefined) headers.ce_subject = input.subject;
  return { headers, value: Buffer.from(JSON.stringify(input.data)) };
}

export interface DecodeOptions {
  /** Largest record value accepted. @defaultValue 1 MiB */
  maxBytes?: number;
  /** Types this consumer accepts; others are refused as `unknown-type`. @defaultValue every known type */
  accept?: readonly EventType[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Throws on any non-finite number (JSON.parse turns 1e999 into Infinity). */
function checkFinite(value: unknown, path: string): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new DecodeError('non-finite', `${path} is not a finite number`);
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) throw new DecodeError('non-finite', `${path}/${i} is not a finite number`);
      } else if (typeof v === 'object' && v !== null) checkFinite(v, `${path}/${i}`);
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const key in value) checkFinite((value as Record<string, unknown>)[key], `${path}/${key}`);
  }
}

/**
 * Decodes and validates one record: envelope attributes, media type, UTF-8,
 * JSON, finiteness, the data schema chosen by `ce_type`, and the cross-field
 * rules JSON Schema cannot state. Throws DecodeError with a precise reason.
 */
export function decodeEvent<T extends EventType>(
  headers: Headers,
  value: Buffer,
  options: DecodeOptions & { accept: readonly T[] },
): { attributes: EventAttributes; data: EventDataMap[T]; type: T } {
  const maxBytes = options.maxBytes ?? 1 << 20;
  if (value.length > maxBytes)
    throw new DecodeError('oversized', `value is ${value.length} bytes, the limit is ${maxBytes}`);
  for (const name of ['ce_specversion', 'ce_id', 'ce_source', 'ce_type'] as const) {
    if (!headers[name]) throw new DecodeError('missing-attribute', `CloudEvents attribute header ${name} is missing`);
  }
  if (headers.ce_specversion !== '1.0') {
    throw new DecodeError('bad-specversion', `ce_specversion is "${headers.ce_specversion}", only "1.0" is supported`);
  }
  const type = headers.ce_type;
  if (!(options.accept as readonly string[]).includes(type)) {
    const parsed = parseType(type);
    const known = parsed && (options.accept as readonly string[]).some((t) => parseType(t)?.name === parsed.name);
    if (known && !isEventType(type)) {
      throw new DecodeError(
        'unknown-version',
        `event type ${type} is a version this consumer does not know (it reads ${options.accept.join(', ')})`,
      );
    }
    throw new DecodeError(
      'unknown-type',
      `event type "${type}" is not accepted here (expected ${options.accept.join(' or ')})`,
    );
  }
  const contentType = headers['content-type'] ?? headers.ce_datacontenttype ?? JSON_TYPE;
  if (!contentType.startsWith(JSON_TYPE)) {
    throw new DecodeError('bad-content-type', `content-type "${contentType}" is not supported (use ${JSON_TYPE})`);
  }
  let text: string;
  try {
    text = utf8.decode(value);
  } catch {
    throw new DecodeError('invalid-utf8', 'value is not valid UTF-8');
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new DecodeError('not-json', `value is not JSON: ${(err as Error).message}`);
  }
  checkFinite(data, '');
  const validate = validatorOf(type)!;
  if (!validate(data)) {
    const e = validate.errors?.[0];
    throw new DecodeError('schema-violation', `${type}: ${e?.instancePath || '/'} ${e?.message ?? 'is invalid'}`);
  }
  checkCrossFields(type as EventType, data);
  return {
    type: type as T,
    data: data as EventDataMap[T],
    attributes: {
      id: headers.ce_id,
      source: headers.ce_source,
      type,
      specversion: '1.0',
      time: headers.ce_time ?? '',
      ...(headers.ce_subject ? { subject: headers.ce_subject } : {}),
      ...(headers.ce_dataschema ? { dataschema: headers.ce_dataschema } : {}),
      datacontenttype: contentType,
    },
  };
}

function checkCrossFields(type: EventType, data: unknown): void {
  if (type === 'dev.activity-tracking.sensor-readings.v1') {
    const d = data as EventDataMap[typeof type];
    if (d.labels && d.labels.length !== d.samples.length) {
      throw new DecodeError('length-mismatch', `${d.labels.length} labels for ${d.samples.length} samples`);
    }
  }
}
