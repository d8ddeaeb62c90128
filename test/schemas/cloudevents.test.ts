import { describe, expect, it } from 'vitest';
import { DecodeError, decodeEvent, encodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { SensorReadings } from '../../src/schemas/types.gen.ts';

const readings: SensorReadings = {
  device: 'phone-7',
  timestamp: 1_700_000_000_000,
  sampleRate: 50,
  sequence: 0,
  samples: [
    [0.98, -0.1, 0.05, 0.01, 0.02, -0.03],
    [0.97, -0.11, 0.06, 0.0, 0.01, -0.02],
  ],
  labels: ['WALKING', 'WALKING'],
};
const accept = [EVENT_TYPES.sensorReadings] as const;

function encoded() {
  return encodeEvent({ type: EVENT_TYPES.sensorReadings, source: 'test', subject: 'phone-7', data: readings });
}

function reasonOf(headers: Record<string, string>, value: Buffer, maxBytes?: number): string {
  try {
    decodeEvent(headers, value, { accept, ...(maxBytes ? { maxBytes } : {}) });
  } catch (err) {
    expect(err).toBeInstanceOf(DecodeError);
    return `${(err as DecodeError).reason}: ${(err as Error).message}`;
  }
  return 'accepted';
}

describe('CloudEvents binary mode', () => {
  it('round-trips attributes and data', () => {
    const { headers, value } = encoded();
    expect(headers.ce_specversion).toBe('1.0');
    expect(headers.ce_type).toBe('dev.activity-tracking.sensor-readings.v1');
    expect(headers.ce_dataschema).toMatch(/schemas\/v1\/sensor-readings\.json$/);
    const decoded = decodeEvent(headers, value, { accept });
    expect(decoded.data).toEqual(readings);
    expect(decoded.attributes).toMatchObject({ source: 'test', subject: 'phone-7', id: headers.ce_id });
  });

  it('refuses each kind of bad input with its own precise reason', () => {
    const { headers, value } = encoded();
    const body = (data: unknown) => Buffer.from(JSON.stringify(data));
    const cases: [string, Record<string, string>, Buffer, number?][] = [
      ['not-json', headers, Buffer.from('{"device": "x", ')],
      ['invalid-utf8', headers, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])],
      ['missing-attribute', { ...headers, ce_type: '' }, value],
      ['missing-attribute', (({ ce_id: _, ...h }) => h)(headers), value],
      ['bad-specversion', { ...headers, ce_specversion: '0.3' }, value],
      ['unknown-type', { ...headers, ce_type: 'com.example.other.v1' }, value],
      ['unknown-version', { ...headers, ce_type: 'dev.activity-tracking.sensor-readings.v2' }, value],
      ['bad-content-type', { ...headers, 'content-type': 'application/avro' }, value],
      ['oversized', headers, value, 64],
      ['non-finite', headers, Buffer.from(value.toString().replace('0.98', '1e999'))],
      ['length-mismatch', headers, body({ ...readings, labels: ['WALKING'] })],
      ['schema-violation', headers, body({ ...readings, samples: [[1, 2, 3, 4, 5]] })],
      ['schema-violation', headers, body({ ...readings, samples: [['1', 2, 3, 4, 5, 6]] })],
      ['schema-violation', headers, body({ ...readings, device: '' })],
      ['schema-violation', headers, body({ ...readings, extra: true })],
      ['schema-violation', headers, body({ ...readings, sequence: -1 })],
    ];
    const messages = new Set<string>();
    for (const [reason, h, v, max] of cases) {
      const got = reasonOf(h, v, max);
      expect(got.startsWith(`${reason}:`), `${reason} -> ${got}`).toBe(true);
      messages.add(got);
    }
    expect(messages.size).toBe(cases.length);
  });
});
