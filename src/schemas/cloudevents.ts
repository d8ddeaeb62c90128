import { randomUUID } from 'node:crypto';
import type { ErrorObject } from 'ajv/dist/2020.js';
import { InvalidOptionError, SchemaViolationError } from '../errors.ts';
import type { Headers } from '../transport/types.ts';
import { DecodeError } from './decode-error.ts';
import {
  decodeFeatureVectorBinary,
  encodeFeatureVectorBinary,
  FEATURE_VECTOR_BINARY_CONTENT_TYPE,
  firstNonFinite,
  validateFeatureVectorHeader,
} from './feature-vector-binary.ts';
import { decodeReadingsBinary, encodeReadingsBinary, READINGS_BINARY_CONTENT_TYPE } from './readings-binary.ts';
import { decodeReadingsBinaryV2, encodeReadingsBinaryV2, TIMED_ROW_WIDTH } from './readings-binary-v2.ts';
import {
  ALL_EVENT_TYPES,
  dataSchemaUri,
  describeAjvError,
  EVENT_TYPES,
  type EventDataMap,
  type EventType,
  parseType,
  validatorOf,
} from './registry.ts';

/**
 * CloudEvents 1.0 in Kafka **binary content mode**: the attributes travel as
 * `ce_*` headers, the record value is the event data alone, and
 * `content-type` names its media type. Consumers route and validate by
 * `ce_type` without parsing the body first; the body stays as small as it can.
 * (docs/schemas.md)
 */

export { DECODE_REASONS, DecodeError, type DecodeReason } from './decode-error.ts';
export { FEATURE_VECTOR_BINARY_CONTENT_TYPE } from './feature-vector-binary.ts';
export { READINGS_BINARY_CONTENT_TYPE } from './readings-binary.ts';

export const JSON_CONTENT_TYPE = 'application/json';
export type ContentType =
  | typeof JSON_CONTENT_TYPE
  | typeof READINGS_BINARY_CONTENT_TYPE
  | typeof FEATURE_VECTOR_BINARY_CONTENT_TYPE;

/** The one event type each binary body is made for. */
const BINARY_BODIES: Readonly<Record<string, readonly EventType[]>> = {
  // Format 1 (v1) or 2 (timed, v2): the event type says which, the body's first byte again.
  [READINGS_BINARY_CONTENT_TYPE]: [EVENT_TYPES.sensorReadings, EVENT_TYPES.sensorReadingsV2],
  [FEATURE_VECTOR_BINARY_CONTENT_TYPE]: [EVENT_TYPES.featureVector],
};

export interface EventAttributes {
  id: string;
  source: string;
  type: string;
  specversion: '1.0';
  /** RFC 3339; empty when the producer sent none. */
  time: string;
  subject?: string;
  dataschema?: string;
  datacontenttype: string;
}

export interface EncodeInput<T extends EventType> {
  type: T;
  source: string;
  data: EventDataMap[T];
  /** The device id on per-device topics; also returned as the record key. */
  subject?: string;
  /** Deterministic ids make redelivered outputs recognizable downstream. @defaultValue a random UUID */
  id?: string;
  time?: Date | string;
  /** @defaultValue the `$id` of the type's schema */
  dataschema?: string;
  /**
   * `application/vnd.activity-tracking.readings+binary` is for sensor readings only,
   * `application/vnd.activity-tracking.feature-vector+binary` for feature vectors only. @defaultValue application/json
   */
  contentType?: ContentType;
  /** Sample precision of the binary body. @defaultValue 32 */
  binaryPrecision?: 32 | 64;
  /**
   * Validate the data before encoding, so a producer bug (NaN, a missing
   * field) fails at its source instead of in every consumer. @defaultValue true
   */
  validate?: boolean;
  /** Extra headers (not CloudEvents attributes). */
  headers?: Headers;
}

export interface EncodedEvent {
  key?: string;
  headers: Headers;
  value: Buffer;
}

/** Builds the headers and value of one record; throws SchemaViolationError when `data` breaks its schema. */
export function encodeEvent<T extends EventType>(input: EncodeInput<T>): EncodedEvent {
  const contentType = input.contentType ?? JSON_CONTENT_TYPE;
  if (contentType !== JSON_CONTENT_TYPE && !BINARY_BODIES[contentType]?.includes(input.type)) {
    throw new InvalidOptionError(
      `content-type ${contentType} is for ${BINARY_BODIES[contentType]?.join(' and ') ?? 'no event type'}, not ${input.type}`,
    );
  }
  const vectorBinary = contentType === FEATURE_VECTOR_BINARY_CONTENT_TYPE;
  if (input.validate !== false) {
    // A binary vector's values are checked in one pass for finiteness, not item by item by the schema.
    const validate = vectorBinary ? validateFeatureVectorHeader : validatorOf(input.type)!;
    if (!validate(input.data)) {
      throw new SchemaViolationError(`cannot encode ${input.type}: ${describeAjvError(validate.errors?.[0])}`, {
        context: { type: input.type, ...ajvContext(validate.errors?.[0]) },
      });
    }
    const values = vectorBinary ? (input.data as EventDataMap[typeof EVENT_TYPES.featureVector]).values : [];
    const bad = firstNonFinite(values);
    if (bad >= 0) {
      throw new SchemaViolationError(
        `cannot encode ${input.type}: /values/${bad} is ${values[bad]}, not a finite number`,
        {
          context: { type: input.type, instancePath: `/values/${bad}` },
        },
      );
    }
    const rule = crossCheck(input.type, input.data);
    if (rule)
      throw new SchemaViolationError(`cannot encode ${input.type}: ${rule[1]}`, { context: { type: input.type } });
  }
  let value: Buffer;
  if (contentType === JSON_CONTENT_TYPE) value = Buffer.from(JSON.stringify(input.data));
  else if (vectorBinary) {
    value = encodeFeatureVectorBinary(input.data as EventDataMap[typeof EVENT_TYPES.featureVector]);
  } else if (input.type === EVENT_TYPES.sensorReadingsV2) {
    value = encodeReadingsBinaryV2(input.data as EventDataMap[typeof EVENT_TYPES.sensorReadingsV2], {
      precision: input.binaryPrecision ?? 32,
    });
  } else {
    value = encodeReadingsBinary(input.data as EventDataMap[typeof EVENT_TYPES.sensorReadings], {
      precision: input.binaryPrecision ?? 32,
    });
  }
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
    ce_dataschema: input.dataschema ?? dataSchemaUri(input.type),
    'content-type': contentType,
  };
  if (input.subject === undefined) return { headers, value };
  headers.ce_subject = input.subject;
  return { key: input.subject, headers, value };
}

export interface DecodeOptions<T extends EventType = EventType> {
  /** Largest record value accepted. @defaultValue 1 MiB */
  maxBytes?: number;
  /** Types this consumer accepts; others are refused as `unknown-type` or `unknown-version`. @defaultValue every known type */
  accept?: readonly T[];
}

/** One decoded event; `type` tells which data it holds. */
export type DecodedEvent<T extends EventType = EventType> = {
  [K in T]: { type: K; data: EventDataMap[K]; attributes: EventAttributes };
}[T];

const DEFAULT_MAX_BYTES = 1 << 20;
const REQUIRED = ['ce_specversion', 'ce_id', 'ce_source', 'ce_type'] as const;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes and validates one record: size, envelope attributes, media type,
 * UTF-8, JSON (parsed once) or a binary body's layout, the data schema chosen
 * by `ce_type` with a validator compiled at start (for feature-vector+binary:
 * the schema minus `values`, whose finiteness the decoder checked), and the
 * cross-field rules JSON Schema cannot state. Throws DecodeError with a reason
 * code and a precise message.
 */
export function decodeEvent<T extends EventType = EventType>(
  headers: Headers,
  value: Buffer,
  options: DecodeOptions<T> = {},
): DecodedEvent<T> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (value.length > maxBytes) {
    throw new DecodeError('oversized', `value is ${value.length} bytes, the limit is ${maxBytes}`);
  }
  for (const name of REQUIRED) {
    if (!headers[name]) throw new DecodeError('missing-attribute', `CloudEvents attribute header ${name} is missing`);
  }
  if (headers.ce_specversion !== '1.0') {
    throw new DecodeError('bad-specversion', `ce_specversion is "${headers.ce_specversion}", only "1.0" is supported`);
  }
  const type = headers.ce_type;
  const accept: readonly string[] = options.accept ?? ALL_EVENT_TYPES;
  if (!accept.includes(type)) refuseType(type, accept);
  const time = headers.ce_time;
  if (time !== undefined && Number.isNaN(Date.parse(time))) {
    throw new DecodeError('bad-attribute', `ce_time "${time}" is not an RFC 3339 timestamp`);
  }
  const contentType = headers['content-type'] ?? JSON_CONTENT_TYPE;
  let data: unknown;
  let validate = validatorOf(type)!;
  if (contentType.startsWith(JSON_CONTENT_TYPE)) data = parseJson(value);
  else if (contentType === FEATURE_VECTOR_BINARY_CONTENT_TYPE && type === EVENT_TYPES.featureVector) {
    // Layout and finite values checked by the decoder; the rest by the schema minus `values`.
    data = decodeFeatureVectorBinary(value);
    validate = validateFeatureVectorHeader;
  } else if (contentType === READINGS_BINARY_CONTENT_TYPE && type === EVENT_TYPES.sensorReadings) {
    data = decodeReadingsBinary(value);
  } else if (contentType === READINGS_BINARY_CONTENT_TYPE && type === EVENT_TYPES.sensorReadingsV2) {
    data = decodeReadingsBinaryV2(value);
  } else {
    throw new DecodeError(
      'bad-content-type',
      `content-type "${contentType}" is not supported for ${type} (use ${JSON_CONTENT_TYPE})`,
    );
  }
  if (!validate(data)) throw schemaError(type, data, validate.errors?.[0]);
  const rule = crossCheck(type as EventType, data);
  if (rule) throw new DecodeError(rule[0], `${type}: ${rule[1]}`);
  const attributes: EventAttributes = {
    id: headers.ce_id,
    source: headers.ce_source,
    type,
    specversion: '1.0',
    time: time ?? '',
    datacontenttype: contentType,
  };
  if (headers.ce_subject) attributes.subject = headers.ce_subject;
  if (headers.ce_dataschema) attributes.dataschema = headers.ce_dataschema;
  return { type, data, attributes } as DecodedEvent<T>;
}

function refuseType(type: string, accept: readonly string[]): never {
  const parsed = parseType(type);
  // A type we know by name at a version we do not: a producer moved ahead of this consumer.
  if (parsed && accept.some((t) => parseType(t)?.name === parsed.name)) {
    throw new DecodeError(
      'unknown-version',
      `event type ${type} is version ${parsed.version}, which this consumer does not know (it reads ${accept.join(', ')})`,
    );
  }
  throw new DecodeError('unknown-type', `event type "${type}" is not accepted here (expected ${accept.join(' or ')})`);
}

function parseJson(value: Buffer): unknown {
  let text: string;
  try {
    text = utf8.decode(value);
  } catch {
    throw new DecodeError('invalid-utf8', 'value is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new DecodeError('not-json', `value is not JSON: ${(err as Error).message}`);
  }
}

function ajvContext(e: ErrorObject | undefined): Record<string, unknown> {
  return e ? { instancePath: e.instancePath, schemaPath: e.schemaPath, keyword: e.keyword, params: e.params } : {};
}

function schemaError(type: string, data: unknown, e: ErrorObject | undefined): DecodeError {
  const cause = new SchemaViolationError(`${type}: ${describeAjvError(e)}`, { context: { type, ...ajvContext(e) } });
  // With strictNumbers, `1e999` (parsed as Infinity) fails `type: number`: say so rather than "must be number".
  if (e?.keyword === 'type') {
    const v = valueAt(data, e.instancePath);
    if (typeof v === 'number' && !Number.isFinite(v)) {
      return new DecodeError('non-finite', `${type}: ${e.instancePath} is ${v}, not a finite number`, cause);
    }
  }
  return new DecodeError('schema-violation', cause.message, cause);
}

function valueAt(data: unknown, pointer: string): unknown {
  let v = data;
  for (const part of pointer.split('/').slice(1)) {
    v = (v as Record<string, unknown>)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return v;
}

type Rule = [reason: 'length-mismatch' | 'inverted-range' | 'schema-violation', message: string];

/** The cross-field rules JSON Schema cannot state; run after the schema passed. */
/** What the v2 readings schema cannot say: rows as wide as their sensor, times and labels as many as samples. */
function timedReadingsRule(data: EventDataMap[typeof EVENT_TYPES.sensorReadingsV2]): Rule | undefined {
  const width = TIMED_ROW_WIDTH[data.sensor];
  const n = data.samples.length;
  for (let i = 0; i < n; i++)
    if (data.samples[i].length !== width)
      return [
        'schema-violation',
        `/samples/${i} has ${data.samples[i].length} values; ${data.sensor} readings are rows of ${width} (acc 3, gyro 3, both 6)`,
      ];
  if (data.timestamps && data.timestamps.length !== n)
    return ['length-mismatch', `/timestamps has ${data.timestamps.length} times for ${n} samples`];
  if (data.labels && data.labels.length !== n)
    return ['length-mismatch', `/labels has ${data.labels.length} labels for ${n} samples`];
  if (data.labels && data.sensor === 'gyro')
    return ['schema-violation', '/labels: gyro readings carry no labels (label the acc or both readings)'];
  return undefined;
}

function crossCheck(type: EventType, data: unknown): Rule | undefined {
  switch (type) {
    case EVENT_TYPES.sensorReadings: {
      const d = data as EventDataMap[typeof type];
      if (d.labels && d.labels.length !== d.samples.length) {
        return ['length-mismatch', `/labels has ${d.labels.length} labels for ${d.samples.length} samples`];
      }
      return undefined;
    }
    case EVENT_TYPES.sensorReadingsV2:
      return timedReadingsRule(data as EventDataMap[typeof type]);
    case EVENT_TYPES.featureVector: {
      const { window: w, source: s } = data as EventDataMap[typeof type];
      if (w.end < w.start) return ['inverted-range', `/window ends (${w.end}) before it starts (${w.start})`];
      if (w.lastSample < w.firstSample) {
        return ['inverted-range', `/window lastSample ${w.lastSample} is before firstSample ${w.firstSample}`];
      }
      if (s.lastOffset < s.firstOffset) {
        return ['inverted-range', `/source lastOffset ${s.lastOffset} is before firstOffset ${s.firstOffset}`];
      }
      return undefined;
    }
    case EVENT_TYPES.drift: {
      const w = (data as EventDataMap[typeof type]).window;
      if (w.toOffset < w.fromOffset) {
        return ['inverted-range', `/window toOffset ${w.toOffset} is before fromOffset ${w.fromOffset}`];
      }
      return undefined;
    }
    case EVENT_TYPES.model: {
      const ranges = (data as EventDataMap[typeof type]).lineage?.ranges ?? [];
      for (let i = 0; i < ranges.length; i++) {
        if (ranges[i].toOffset < ranges[i].fromOffset) {
          return ['inverted-range', `/lineage/ranges/${i} toOffset is before fromOffset`];
        }
      }
      return undefined;
    }
    case EVENT_TYPES.prediction: {
      const w = (data as EventDataMap[typeof type]).window;
      if (w.end < w.start) return ['inverted-range', `/window ends (${w.end}) before it starts (${w.start})`];
      return undefined;
    }
    default:
      return undefined;
  }
}
