import { describe, expect, it } from 'vitest';
import { InvalidOptionError, InvalidRecordError, SchemaViolationError } from '../../src/errors.ts';
import {
  DECODE_REASONS,
  DecodeError,
  decodeEvent,
  encodeEvent,
  READINGS_BINARY_CONTENT_TYPE,
} from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import { EXAMPLES } from './examples.ts';

const readings = EXAMPLES[EVENT_TYPES.sensorReadings];
const accept = [EVENT_TYPES.sensorReadings] as const;
const invertedDrift = {
  ...EXAMPLES[EVENT_TYPES.drift],
  window: { topic: 'features', partition: 3, fromOffset: 1187, toOffset: 1156 },
};

function encoded() {
  return encodeEvent({ type: EVENT_TYPES.sensorReadings, source: 'test', subject: readings.device, data: readings });
}

function reasonOf(headers: Record<string, string>, value: Buffer, maxBytes?: number): string {
  try {
    // Any known type when ce_type names another one than readings, so that its own rules are reached.
    const only = headers.ce_type?.includes('.sensor-readings.') ? { accept } : {};
    decodeEvent(headers, value, { ...only, ...(maxBytes ? { maxBytes } : {}) });
  } catch (err) {
    expect(err).toBeInstanceOf(DecodeError);
    return `${(err as DecodeError).reason}: ${(err as Error).message}`;
  }
  return 'accepted';
}

describe('CloudEvents binary content mode', () => {
  it('round-trips attributes and data, and keys the record by subject', () => {
    const time = new Date(readings.timestamp);
    const { key, headers, value } = encodeEvent({
      type: EVENT_TYPES.sensorReadings,
      source: 'app',
      subject: readings.device,
      id: 'user-01:8037',
      time,
      data: readings,
    });
    expect(key).toBe(readings.device);
    expect(headers).toEqual({
      ce_specversion: '1.0',
      ce_id: 'user-01:8037',
      ce_source: 'app',
      ce_type: 'dev.activity-tracking.sensor-readings.v1',
      ce_time: time.toISOString(),
      ce_subject: readings.device,
      ce_dataschema: 'https://activity-tracking.dev/schemas/v1/sensor-readings.json',
      'content-type': 'application/json',
    });
    expect(JSON.parse(value.toString())).toEqual(readings);
    const decoded = decodeEvent(headers, value, { accept });
    expect(decoded.type).toBe(EVENT_TYPES.sensorReadings);
    expect(decoded.data).toEqual(readings);
    expect(decoded.attributes).toEqual({
      id: 'user-01:8037',
      source: 'app',
      type: EVENT_TYPES.sensorReadings,
      specversion: '1.0',
      time: time.toISOString(),
      subject: readings.device,
      dataschema: headers.ce_dataschema,
      datacontenttype: 'application/json',
    });
  });

  it('accepts every known type unless told otherwise, and tolerates absent optional attributes', () => {
    const { headers, value } = encodeEvent({
      type: EVENT_TYPES.prediction,
      source: 'p',
      data: EXAMPLES[EVENT_TYPES.prediction],
    });
    const { ce_time: _, ce_dataschema: __, 'content-type': ___, ...minimal } = headers;
    const decoded = decodeEvent(minimal, value);
    expect(decoded.type).toBe(EVENT_TYPES.prediction);
    expect(decoded.attributes.time).toBe('');
    expect(decoded.attributes.datacontenttype).toBe('application/json');
  });

  it('refuses each kind of bad input with its own precise reason', () => {
    const { headers, value } = encoded();
    const body = (data: unknown) => Buffer.from(JSON.stringify(data));
    const text = value.toString();
    const first = String(readings.samples[0][0]);
    const cases: [string, Record<string, string>, Buffer, number?][] = [
      ['oversized', headers, value, 1024],
      ['missing-attribute', { ...headers, ce_type: '' }, value],
      ['missing-attribute', (({ ce_id: _, ...h }) => h)(headers), value],
      ['bad-attribute', { ...headers, ce_time: 'yesterday' }, value],
      ['bad-specversion', { ...headers, ce_specversion: '0.3' }, value],
      ['unknown-type', { ...headers, ce_type: 'com.example.other.v1' }, value],
      ['unknown-version', { ...headers, ce_type: 'dev.activity-tracking.sensor-readings.v2' }, value],
      ['bad-content-type', { ...headers, 'content-type': 'application/avro' }, value],
      ['invalid-utf8', headers, Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d])],
      ['not-json', headers, Buffer.from('{"device": "x", ')],
      ['not-json', headers, Buffer.from(text.replace(first, 'NaN'))],
      ['malformed-binary', { ...headers, 'content-type': READINGS_BINARY_CONTENT_TYPE }, value],
      ['non-finite', headers, Buffer.from(text.replace(first, '1e999'))],
      ['length-mismatch', headers, body({ ...readings, labels: ['WALKING'] })],
      ['schema-violation', headers, body({ ...readings, samples: [[1, 2, 3, 4, 5]] })],
      ['schema-violation', headers, body({ ...readings, samples: [['1', 2, 3, 4, 5, 6]] })],
      ['schema-violation', headers, body({ ...readings, device: '' })],
      ['schema-violation', headers, body({ ...readings, extra: true })],
      ['schema-violation', headers, body({ ...readings, sequence: -1 })],
      ['schema-violation', headers, body([readings])],
      ['schema-violation', { ...headers, ce_type: EVENT_TYPES.featureVector }, value],
      ['inverted-range', { ...headers, ce_type: EVENT_TYPES.drift }, body(invertedDrift)],
    ];
    const messages = new Set<string>();
    for (const [reason, h, v, max] of cases) {
      const got = reasonOf(h, v, max);
      expect(got.startsWith(`${reason}:`), `${reason} -> ${got}`).toBe(true);
      messages.add(got);
    }
    expect(messages.size).toBe(cases.length);
    expect(new Set(cases.map((c) => c[0]))).toEqual(new Set(DECODE_REASONS));
  });

  it('refuses a known type this consumer does not read as unknown-type', () => {
    const { headers, value } = encodeEvent({
      type: EVENT_TYPES.prediction,
      source: 't',
      data: EXAMPLES[EVENT_TYPES.prediction],
    });
    expect(() => decodeEvent(headers, value, { accept })).toThrow(
      'event type "dev.activity-tracking.prediction.v1" is not accepted here (expected dev.activity-tracking.sensor-readings.v1)',
    );
  });

  it('names the place, the rule and the offending property of a schema violation', () => {
    const { headers } = encoded();
    const decode = (data: unknown) => reasonOf(headers, Buffer.from(JSON.stringify(data)));
    expect(decode({ ...readings, samples: [[1, 2, 3, 4, 5]] })).toBe(
      'schema-violation: dev.activity-tracking.sensor-readings.v1: /samples/0 must NOT have fewer than 6 items (#/properties/samples/items/minItems)',
    );
    expect(decode({ ...readings, battery: 1 })).toBe(
      'schema-violation: dev.activity-tracking.sensor-readings.v1: / must NOT have additional properties: "battery" (#/additionalProperties)',
    );
    expect(decode({ ...readings, labels: ['WALKING'] })).toBe(
      'length-mismatch: dev.activity-tracking.sensor-readings.v1: /labels has 1 labels for 50 samples',
    );
  });

  it('keeps the ajv details on a SchemaViolationError cause', () => {
    const { headers } = encoded();
    const bad = structuredClone(readings) as unknown as { samples: unknown[][] };
    bad.samples[7][2] = 'x';
    const err = (() => {
      try {
        decodeEvent(headers, Buffer.from(JSON.stringify(bad)), { accept });
      } catch (e) {
        return e as DecodeError;
      }
    })()!;
    expect(err).toBeInstanceOf(InvalidRecordError);
    expect(err.code).toBe('INVALID_RECORD');
    expect(err.retriable).toBe(false);
    expect(err.cause).toBeInstanceOf(SchemaViolationError);
    expect(err.toJSON()).toMatchObject({
      reason: 'schema-violation',
      instancePath: '/samples/7/2',
      keyword: 'type',
      schemaPath: '#/properties/samples/items/items/type',
    });
  });

  it('refuses inverted ranges the schema cannot see', () => {
    const vector = structuredClone(EXAMPLES[EVENT_TYPES.featureVector]);
    vector.source.lastOffset = vector.source.firstOffset - 1;
    const { headers } = encodeEvent({
      type: EVENT_TYPES.featureVector,
      source: 't',
      data: EXAMPLES[EVENT_TYPES.featureVector],
    });
    expect(() => decodeEvent(headers, Buffer.from(JSON.stringify(vector)))).toThrow(
      /source lastOffset 148 is before firstOffset 149/,
    );
  });

  it('refuses to encode data that breaks its schema, so a producer bug fails at its source', () => {
    const withNaN = structuredClone(readings);
    withNaN.samples[1][0] = Number.NaN;
    const encode = (data: typeof readings, validate?: boolean) =>
      encodeEvent({ type: EVENT_TYPES.sensorReadings, source: 't', data, ...(validate === false ? { validate } : {}) });
    expect(() => encode(withNaN)).toThrow(SchemaViolationError);
    expect(() => encode(withNaN)).toThrow('/samples/1/0 must be number');
    expect(() => encode({ ...readings, labels: ['WALKING'] })).toThrow('/labels has 1 labels for 50 samples');
    // Opting out writes what JSON.stringify makes of NaN, and the consumer refuses it.
    const { headers, value } = encode(withNaN, false);
    expect(reasonOf(headers, value)).toMatch(/^schema-violation: .*\/samples\/1\/0 must be number/);
  });

  it('offers the binary body to sensor readings only', () => {
    expect(() =>
      encodeEvent({
        type: EVENT_TYPES.prediction,
        source: 't',
        data: EXAMPLES[EVENT_TYPES.prediction],
        contentType: READINGS_BINARY_CONTENT_TYPE,
      }),
    ).toThrow(InvalidOptionError);
  });
});
