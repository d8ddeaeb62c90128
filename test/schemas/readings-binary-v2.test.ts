import { describe, expect, it } from 'vitest';
import { DecodeError, decodeEvent, encodeEvent, READINGS_BINARY_CONTENT_TYPE } from '../../src/schemas/cloudevents.ts';
import { decodeReadingsBinaryV2, encodeReadingsBinaryV2 } from '../../src/schemas/readings-binary-v2.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { SensorReadingsV2 } from '../../src/schemas/types.gen.ts';
import { EXAMPLES } from './examples.ts';

const acc = EXAMPLES['dev.activity-tracking.sensor-readings.v2'];
const gyroStartRate: SensorReadingsV2 = {
  device: 'phone-ü',
  sensor: 'gyro',
  start: 1_700_000_000_000.5,
  rate: 200,
  samples: [
    [0.011, -0.2, 1e-7],
    [0.012, -0.21, -3.5],
  ],
};
const both: SensorReadingsV2 = {
  device: 'p',
  sensor: 'both',
  timestamps: [1, 2.25],
  samples: [
    [1, 2, 3, 4, 5, 6],
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
  ],
  labels: [null, 'SITTING'],
};

describe('binary timed readings (format 2)', () => {
  it('round-trips every form exactly with float64 samples', () => {
    for (const data of [acc, gyroStartRate, both])
      expect(decodeReadingsBinaryV2(encodeReadingsBinaryV2(data, { precision: 64 }))).toEqual(data);
  });

  it('rounds samples to float32 by default, timestamps and the rest exact, and is a fraction of the JSON', () => {
    const decoded = decodeReadingsBinaryV2(encodeReadingsBinaryV2(both));
    expect(decoded.timestamps).toEqual(both.timestamps);
    expect(decoded.labels).toEqual(both.labels);
    expect(decoded.samples.flat()).toEqual(both.samples.flat().map((v) => Math.fround(v)));
    const many: SensorReadingsV2 = {
      device: 'user-01',
      sensor: 'acc',
      timestamps: Array.from({ length: 200 }, (_, i) => 1_700_000_000_000 + i * 5.013) as never,
      samples: Array.from({ length: 200 }, (_, i) => [Math.sin(i), Math.cos(i), 0.98 + i / 1e4]) as never,
    };
    expect(encodeReadingsBinaryV2(many).length).toBeLessThan(0.5 * Buffer.byteLength(JSON.stringify(many)));
  });

  it('travels as a CloudEvent and yields what the JSON body does, through the same validation', () => {
    const binary = encodeEvent({
      type: EVENT_TYPES.sensorReadingsV2,
      source: 'test',
      data: both,
      contentType: READINGS_BINARY_CONTENT_TYPE,
      binaryPrecision: 64,
    });
    expect(binary.headers['content-type']).toBe(READINGS_BINARY_CONTENT_TYPE);
    expect(decodeEvent(binary.headers, binary.value).data).toEqual(both);
    // A format-2 body the cross-field rules refuse is refused as its JSON would be: a gyro reading with labels.
    const bad = encodeReadingsBinaryV2({ ...acc, sensor: 'acc' });
    bad.writeUInt8(1, 8);
    expect(() => decodeEvent({ ...binary.headers }, bad)).toThrow(/gyro readings carry no labels/);
  });

  it('refuses malformed bodies with the place they break, and a v1 body under the v2 type', () => {
    const good = encodeReadingsBinaryV2(both, { precision: 64 });
    const cases: [Buffer, RegExp][] = [
      [good.subarray(0, 20), /shorter than the header/],
      [Buffer.concat([good, Buffer.from([0])]), /1 trailing bytes/],
      [good.subarray(0, good.length - 3), /label table entry 1 runs past the end|label indices announced/],
      [Buffer.from(good).fill(9, 8, 9), /sensor code 9/],
      [Buffer.from(good).fill(1, 0, 1), /format version 1; timed readings use format 2/],
      [Buffer.from(good).fill(0x80, 1, 2), /unknown flags/],
    ];
    for (const [body, message] of cases) {
      const err = (() => {
        try {
          decodeReadingsBinaryV2(body);
        } catch (e) {
          return e;
        }
      })();
      expect(err, String(message)).toBeInstanceOf(DecodeError);
      expect((err as DecodeError).reason).toBe('malformed-binary');
      expect((err as Error).message).toMatch(message);
    }
  });
});
