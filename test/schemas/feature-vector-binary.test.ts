import { describe, expect, it } from 'vitest';
import { InvalidOptionError, SchemaViolationError } from '../../src/errors.ts';
import { FEATURE_SET, Featurizer, flattenRows } from '../../src/features/index.ts';
import {
  DecodeError,
  decodeEvent,
  encodeEvent,
  FEATURE_VECTOR_BINARY_CONTENT_TYPE,
} from '../../src/schemas/cloudevents.ts';
import { decodeFeatureVectorBinary, encodeFeatureVectorBinary } from '../../src/schemas/feature-vector-binary.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { FeatureVector } from '../../src/schemas/types.gen.ts';
import { EXAMPLES, realReadings } from './examples.ts';

const accept = [EVENT_TYPES.featureVector] as const;
const readings = realReadings(128);
const window = new Featurizer({ sampleRateHz: 50 }).push(flattenRows(readings.samples), readings.labels ?? null)[0];
/** A vector as the featurizer writes it: 218 full doubles of a real window, calibrated. */
const real: FeatureVector = {
  device: readings.device,
  featureSet: FEATURE_SET,
  values: Array.from(window.features) as FeatureVector['values'],
  window: { start: readings.timestamp, end: readings.timestamp + 2540, firstSample: 0, lastSample: 127 },
  source: { topic: 'sensor-readings', partition: 1, firstOffset: 41, lastOffset: 43 },
  label: window.label,
  calibration: { id: 'user-01:cal', rotation: [0, -1, 0, 1, 0, 0, 0, 0, 1], offset: [0.01, -0.02, 0] },
};
const event = { type: EVENT_TYPES.featureVector, source: 't', subject: real.device, data: real } as const;

const bits = (values: readonly number[]) => Buffer.from(new Float64Array(values).buffer).toString('hex');

function binary(data: FeatureVector) {
  return encodeEvent({ ...event, data, contentType: FEATURE_VECTOR_BINARY_CONTENT_TYPE, validate: false });
}

function reasonOf(value: Buffer): string {
  try {
    decodeEvent(binary(real).headers, value, { accept });
  } catch (err) {
    expect(err).toBeInstanceOf(DecodeError);
    return `${(err as DecodeError).reason}: ${(err as Error).message}`;
  }
  return 'accepted';
}

describe('feature-vector+binary body', () => {
  it('round-trips a real vector bit for bit, with every optional field present or absent', () => {
    expect(real.values).toHaveLength(218);
    const back = decodeFeatureVectorBinary(encodeFeatureVectorBinary(real));
    expect(back).toEqual(real);
    expect(bits(back.values)).toBe(bits(real.values));
    const plain = { ...EXAMPLES[EVENT_TYPES.featureVector] };
    expect(decodeFeatureVectorBinary(encodeFeatureVectorBinary(plain))).toEqual(plain);
    const { predicted: _, ...bare } = plain;
    const back2 = decodeFeatureVectorBinary(encodeFeatureVectorBinary({ ...bare, label: null, calibration: null }));
    expect(back2).toEqual({ ...bare, label: null, calibration: null });
    expect('predicted' in back2).toBe(false);
  });

  it('keeps −0, subnormals and the extremes exactly; JSON keeps all but the sign of zero', () => {
    const edge = [-0, 5e-324, -5e-324, 2.225073858507201e-308, Number.MAX_VALUE, -Number.MAX_VALUE, 0.1 + 0.2, 1];
    const data = { ...real, values: edge as FeatureVector['values'] };
    const viaBinary = decodeEvent(binary(data).headers, binary(data).value, { accept }).data;
    expect(bits(viaBinary.values)).toBe(bits(edge));
    const json = encodeEvent({ ...event, data });
    const viaJson = decodeEvent(json.headers, json.value, { accept }).data;
    expect(Object.is(viaJson.values[0], 0)).toBe(true);
    expect(bits(viaJson.values.slice(1))).toBe(bits(edge.slice(1)));
  });

  it('is half the size of JSON, its header padded so that the values start 8-byte aligned', () => {
    const { headers, value } = encodeEvent({ ...event, contentType: FEATURE_VECTOR_BINARY_CONTENT_TYPE });
    expect(headers['content-type']).toBe(FEATURE_VECTOR_BINARY_CONTENT_TYPE);
    const h = value.readUInt16LE(2);
    expect([value[0], value[1], value.readUInt32LE(4)]).toEqual([1, 0, 218]);
    expect((8 + h) % 8).toBe(0);
    expect(value.length).toBe(8 + h + 218 * 8);
    expect(value.length).toBeLessThan(encodeEvent(event).value.length / 2);
  });

  it('decodes to the same data as the JSON body, and JSON vectors are still read', () => {
    const json = encodeEvent(event);
    const bin = encodeEvent({ ...event, contentType: FEATURE_VECTOR_BINARY_CONTENT_TYPE });
    const a = decodeEvent(json.headers, json.value, { accept });
    const b = decodeEvent(bin.headers, bin.value, { accept });
    expect(b.data).toEqual(a.data);
    expect(a.data).toEqual(real);
    expect(a.attributes.datacontenttype).toBe('application/json');
    expect(b.attributes.datacontenttype).toBe(FEATURE_VECTOR_BINARY_CONTENT_TYPE);
  });

  it('refuses NaN and ±Infinity at the encoder, and at the decoder whatever their bits', () => {
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const data = { ...real, values: [1, v, 2] as FeatureVector['values'] };
      const encode = () => encodeEvent({ ...event, data, contentType: FEATURE_VECTOR_BINARY_CONTENT_TYPE });
      expect(encode).toThrow(SchemaViolationError);
      expect(encode).toThrow(`cannot encode ${EVENT_TYPES.featureVector}: /values/1 is ${v}, not a finite number`);
      expect(reasonOf(binary(data).value)).toBe(
        `non-finite: ${EVENT_TYPES.featureVector}: /values/1 is ${v}, not a finite number`,
      );
    }
    const body = binary(real).value;
    const payloadNaN = Buffer.from(body);
    payloadNaN.writeBigUInt64LE(0xfff0_0000_dead_beefn, body.length - 8);
    expect(reasonOf(payloadNaN)).toMatch(/^non-finite: .*\/values\/217 is NaN/);
  });

  it('checks the header with the schema and the cross-field rules, as for JSON', () => {
    const cases: [FeatureVector, RegExp][] = [
      [{ ...real, device: '' }, /^schema-violation: .*\/device must NOT have fewer than 1 characters/],
      [{ ...real, label: 'x'.repeat(65) }, /^schema-violation: .*\/label must NOT have more than 64 characters/],
      [{ ...real, extra: 1 } as FeatureVector, /^schema-violation: .* must NOT have additional properties: "extra"/],
      [
        { ...real, window: { ...real.window, firstSample: 1.5 } },
        /^schema-violation: .*\/window\/firstSample must be integer/,
      ],
      [
        { ...real, calibration: { ...real.calibration!, offset: [0, 0] } as never },
        /^schema-violation: .*\/calibration\/offset/,
      ],
      [{ ...real, window: { ...real.window, end: 0 } }, /^inverted-range: .*\/window ends \(0\) before/],
    ];
    for (const [data, reason] of cases) {
      expect(reasonOf(binary(data).value)).toMatch(reason);
      const json = encodeEvent({ ...event, data, validate: false });
      expect(() => decodeEvent(json.headers, json.value, { accept })).toThrow(DecodeError);
    }
    const { device: _, ...noDevice } = real;
    expect(reasonOf(binary(noDevice as FeatureVector).value)).toMatch(/must have required property 'device'/);
  });

  it('refuses malformed bodies with the place they break', () => {
    const good = binary(real).value;
    const h = good.readUInt16LE(2);
    const patched = (at: number, byte: number) => {
      const b = Buffer.from(good);
      b[at] = byte;
      return b;
    };
    const withHeader = (text: string) => {
      const b = Buffer.alloc(8 + text.length + 8);
      b.writeUInt8(1, 0);
      b.writeUInt16LE(text.length, 2);
      b.writeUInt32LE(1, 4);
      b.write(text, 8);
      return b;
    };
    const cases: [Buffer, string][] = [
      [good.subarray(0, 5), 'body is 5 bytes, shorter than the 8-byte prefix'],
      [patched(0, 2), 'format version 2; this decoder reads 1'],
      [patched(1, 4), 'unknown flags 0x4'],
      [Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), 'value count 0 is outside 1..4096'],
      [patched(5, 0x20), 'value count 8410 is outside 1..4096'],
      [
        good.subarray(0, good.length - 4),
        `a ${h}-byte header and 218 values make ${good.length} bytes, the body has ${good.length - 4}`,
      ],
      [
        Buffer.concat([good, Buffer.alloc(8)]),
        `a ${h}-byte header and 218 values make ${good.length} bytes, the body has ${good.length + 8} (8 trailing)`,
      ],
      [patched(9, 0xff), 'header is not valid UTF-8'],
      [withHeader('{"device":'), 'header is not JSON: Unexpected end of JSON input'],
      [withHeader('[1,2]'), 'header is not a JSON object'],
      [withHeader('{"values":[1]}'), 'header holds "values"; they belong in the float64 block'],
    ];
    for (const [body, message] of cases) {
      expect(reasonOf(body)).toBe(`malformed-binary: feature-vector+binary: ${message}`);
    }
  });

  it('is offered to feature vectors only, and refused under another event type', () => {
    expect(() =>
      encodeEvent({
        type: EVENT_TYPES.prediction,
        source: 't',
        data: EXAMPLES[EVENT_TYPES.prediction],
        contentType: FEATURE_VECTOR_BINARY_CONTENT_TYPE,
      }),
    ).toThrow(InvalidOptionError);
    const readingsEvent = encodeEvent({ type: EVENT_TYPES.sensorReadings, source: 't', data: readings });
    expect(() =>
      decodeEvent({ ...readingsEvent.headers, 'content-type': FEATURE_VECTOR_BINARY_CONTENT_TYPE }, binary(real).value),
    ).toThrow(
      /^content-type "application\/vnd.activity-tracking.feature-vector\+binary" is not supported for dev.activity-tracking.sensor-readings.v1/,
    );
  });
});
