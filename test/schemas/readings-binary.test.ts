import { describe, expect, it } from 'vitest';
import { DecodeError, decodeEvent, encodeEvent, READINGS_BINARY_CONTENT_TYPE } from '../../src/schemas/cloudevents.ts';
import { decodeReadingsBinary, encodeReadingsBinary } from '../../src/schemas/readings-binary.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { SensorReadings } from '../../src/schemas/types.gen.ts';
import { realReadings } from './examples.ts';

const readings = realReadings();

function reasonOf(value: Buffer): string {
  try {
    decodeEvent({ ...headers(), 'content-type': READINGS_BINARY_CONTENT_TYPE }, value);
  } catch (err) {
    expect(err).toBeInstanceOf(DecodeError);
    return `${(err as DecodeError).reason}: ${(err as Error).message}`;
  }
  return 'accepted';
}

function headers() {
  return encodeEvent({ type: EVENT_TYPES.sensorReadings, source: 't', data: readings }).headers;
}

describe('readings+binary body', () => {
  it('round-trips real readings exactly with float64 samples', () => {
    expect(decodeReadingsBinary(encodeReadingsBinary(readings, { precision: 64 }))).toEqual(readings);
  });

  it('rounds samples to float32 by default and keeps everything else exact', () => {
    const body = encodeReadingsBinary(readings);
    // 32-byte header + device id + 50 × 6 float32 + label table (1 + 1 + 7 bytes) + 50 label indices.
    expect(body.length).toBe(32 + readings.device.length + 50 * 6 * 4 + 1 + 1 + 'WALKING'.length + 50);
    const back = decodeReadingsBinary(body);
    expect(back).toEqual({ ...readings, samples: readings.samples.map((row) => row.map(Math.fround)) });
    for (let i = 0; i < 50; i++) {
      for (let c = 0; c < 6; c++) {
        const v = readings.samples[i][c];
        expect(Math.abs(back.samples[i][c] - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -24);
      }
    }
  });

  it('omits labels when the message has none', () => {
    const { labels: _, ...unlabelled } = readings;
    const back = decodeReadingsBinary(encodeReadingsBinary(unlabelled, { precision: 64 }));
    expect(back).toEqual(unlabelled);
    expect('labels' in back).toBe(false);
  });

  it('travels as a CloudEvent and yields the same data a JSON body would', () => {
    const event = { type: EVENT_TYPES.sensorReadings, source: 't', subject: readings.device, data: readings } as const;
    const json = encodeEvent(event);
    const binary = encodeEvent({ ...event, contentType: READINGS_BINARY_CONTENT_TYPE, binaryPrecision: 64 });
    expect(binary.headers['content-type']).toBe(READINGS_BINARY_CONTENT_TYPE);
    const f32 = encodeEvent({ ...event, contentType: READINGS_BINARY_CONTENT_TYPE });
    // HAPT values carry 5 significant digits, so its JSON is already short: float32 still halves it.
    expect(f32.value.length).toBeLessThan(json.value.length / 2);
    const decoded = decodeEvent(binary.headers, binary.value, { accept: [EVENT_TYPES.sensorReadings] });
    expect(decoded.data).toEqual(decodeEvent(json.headers, json.value).data);
    expect(decoded.attributes.datacontenttype).toBe(READINGS_BINARY_CONTENT_TYPE);
  });

  it('passes the decoded data through the same schema validation', () => {
    const fast: SensorReadings = { ...readings, sampleRate: 2000 };
    const body = encodeReadingsBinary(fast);
    expect(reasonOf(body)).toMatch(/^schema-violation: .*\/sampleRate must be <= 1000/);
    const huge = encodeReadingsBinary(readings);
    huge.writeFloatLE(Number.POSITIVE_INFINITY, 32 + readings.device.length + 4 * 4);
    expect(reasonOf(huge)).toBe(
      'non-finite: dev.activity-tracking.sensor-readings.v1: /samples/0/4 is Infinity, not a finite number',
    );
  });

  it('refuses malformed bodies with the place they break', () => {
    const good = encodeReadingsBinary(readings);
    const tableAt = 32 + readings.device.length + 50 * 6 * 4;
    const patched = (at: number, byte: number) => {
      const b = Buffer.from(good);
      b[at] = byte;
      return b;
    };
    const cases: [Buffer, string][] = [
      [good.subarray(0, 20), 'body is 20 bytes, shorter than the 32-byte header'],
      [patched(0, 2), 'format version 2; this decoder reads 1'],
      [patched(1, 0x83), 'unknown flags 0x83'],
      [good.subarray(0, 1000), 'header announces 50 samples, the body ends after 1000 of 1239 bytes'],
      [patched(32, 0xff), 'device id is not valid UTF-8'],
      [good.subarray(0, tableAt), 'labels flag set, the label table is missing'],
      [patched(tableAt + 1, 255), 'label table entry 1 runs past the end'],
      [patched(good.length - 1, 7), 'label index 7 of sample 49 is beyond the 1-entry table'],
      [good.subarray(0, good.length - 3), '50 label indices announced, 47 bytes left'],
      [Buffer.concat([good, Buffer.from([0, 0])]), '2 trailing bytes after the last field'],
    ];
    for (const [body, message] of cases) expect(reasonOf(body)).toBe(`malformed-binary: readings+binary: ${message}`);
  });
});
