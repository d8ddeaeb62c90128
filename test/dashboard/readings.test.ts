import { describe, expect, it } from 'vitest';
import { RateWindow } from '../../src/dashboard/rate.ts';
import { countReadings } from '../../src/dashboard/readings.ts';
import { DashboardState } from '../../src/dashboard/state.ts';
import { InvalidOptionError } from '../../src/errors.ts';
import {
  type ContentType,
  decodeEvent,
  encodeEvent,
  READINGS_BINARY_CONTENT_TYPE,
} from '../../src/schemas/cloudevents.ts';
import type { EventDataMap, EventType } from '../../src/schemas/registry.ts';
import type { ConsumedRecord } from '../../src/transport/types.ts';
import { EXAMPLES } from '../schemas/examples.ts';

const T0 = 1_700_000_000_000;
const MIN = 60_000;

function record<T extends EventType>(
  type: T,
  data: Partial<EventDataMap[T]> = {},
  contentType?: ContentType,
  subject: string | undefined = 'user-01',
  over: 'merge' | 'replace' = 'merge',
): ConsumedRecord {
  const e = encodeEvent({
    type,
    source: 'test',
    data: (over === 'merge' ? { ...EXAMPLES[type], ...data } : data) as EventDataMap[T],
    ...(subject ? { subject } : {}),
    ...(contentType ? { contentType } : {}),
  });
  return {
    topic: 'sensor-readings',
    partition: 0,
    offset: 0,
    key: e.key ?? null,
    value: e.value,
    headers: e.headers,
    timestamp: T0,
  };
}

describe('countReadings', () => {
  const v1 = EXAMPLES['dev.activity-tracking.sensor-readings.v1'];
  const v2 = EXAMPLES['dev.activity-tracking.sensor-readings.v2'];

  it('counts v1 and v2 samples, JSON and binary, as the full decode does', () => {
    for (const [type, contentType] of [
      ['dev.activity-tracking.sensor-readings.v1', undefined],
      ['dev.activity-tracking.sensor-readings.v1', READINGS_BINARY_CONTENT_TYPE],
      ['dev.activity-tracking.sensor-readings.v2', undefined],
      ['dev.activity-tracking.sensor-readings.v2', READINGS_BINARY_CONTENT_TYPE],
    ] as const) {
      const r = record(type, {}, contentType);
      const decoded = decodeEvent(r.headers, r.value).data as { samples: unknown[] };
      expect(countReadings(r), `${type} ${contentType ?? 'json'}`).toEqual({
        device: 'user-01',
        samples: decoded.samples.length,
      });
    }
    // v2 with start + rate instead of timestamps, and brackets inside label strings.
    const { timestamps: _, ...rest } = v2;
    const r = record(
      'dev.activity-tracking.sensor-readings.v2',
      { ...rest, start: T0, rate: 50, labels: ['[a]', 'b\\"[', null, '[[['] },
      undefined,
      'user-01',
      'replace',
    );
    expect(countReadings(r)?.samples).toBe(4);
    // Whitespace between tokens, and a label that ends in a backslash.
    const pretty = JSON.stringify({ ...v1, labels: v1.samples.map((_, i) => (i === 0 ? 'x\\' : '[')) }, null, 2);
    expect(countReadings({ ...r, value: Buffer.from(` ${pretty}\n`) })?.samples).toBe(v1.samples.length);
    expect(
      countReadings(
        record('dev.activity-tracking.sensor-readings.v1', {
          samples: v1.samples.slice(0, 1) as typeof v1.samples,
          labels: undefined,
        }),
      ),
    ).toEqual({ device: 'user-01', samples: 1 });
  });

  it('gives null for other types, bodies that do not balance, and records with no device', () => {
    expect(countReadings(record('dev.activity-tracking.device-calibration.v1'))).toBeNull();
    const r = record('dev.activity-tracking.sensor-readings.v1');
    expect(countReadings({ ...r, value: Buffer.from('{"samples":[[1,2') })).toBeNull();
    expect(countReadings({ ...r, value: Buffer.from('{"device":"x, "samples":[[1]]}') })).toBeNull();
    expect(
      countReadings({
        ...r,
        value: Buffer.from([1, 0]),
        headers: { ...r.headers, 'content-type': READINGS_BINARY_CONTENT_TYPE },
      }),
    ).toBeNull();
    expect(countReadings({ ...r, headers: { ...r.headers, 'content-type': 'text/plain' } })).toBeNull();
    expect(countReadings(record('dev.activity-tracking.sensor-readings.v1', {}, undefined, ''))).toBeNull();
  });
});

describe('RateWindow', () => {
  it('averages the samples of the last whole seconds, over the seconds the device has been active', () => {
    const w = new RateWindow(10);
    // 50 samples a second for 20 s.
    for (let s = 0; s < 20; s++) w.add(T0 + s * 1000 + 500, 50);
    expect(w.perSecond(T0 + 19_900)).toBe(50);
    // Three seconds in: averaged over three seconds, not the whole window.
    const fresh = new RateWindow(10);
    for (let s = 0; s < 3; s++) fresh.add(T0 + s * 1000, 25);
    expect(fresh.perSecond(T0 + 2_500)).toBe(25);
    // Quiet for 5 s: half the window holds samples; quiet for a window: 0.
    expect(w.perSecond(T0 + 24_900)).toBe(25);
    expect(w.perSecond(T0 + 30_000)).toBe(0);
    // Too old to count in the window: ignored.
    w.add(T0, 1_000);
    expect(w.perSecond(T0 + 19_900)).toBe(50);
  });
});

describe('DashboardState: readings and calibrations', () => {
  const calibration = (device: string, model: 'rotation' | 'identity' = 'rotation') => {
    const r = record('dev.activity-tracking.device-calibration.v1', { device, model });
    return decodeEvent(r.headers, r.value);
  };
  const drift = (device: string) => {
    const r = record('dev.activity-tracking.drift.v1', { device, time: 0 });
    return decodeEvent(r.headers, r.value);
  };

  it('shows samples per second, and closes a drift by a calibration of its device (not by a withdrawal)', () => {
    const s = new DashboardState({ rateWindowMs: 5_000 });
    for (let i = 0; i < 100; i++) s.readings('user-01', 10, T0 + i * 100);
    // Stream time 0 in the drift: openness is by the log's time.
    s.apply(drift('user-01'), T0 + MIN);
    s.apply(drift('user-02'), T0 + MIN);
    const at = (now: number) => Object.fromEntries(s.snapshot(now).devices.map((d) => [d.device, d]));
    expect(at(T0 + 9_500)['user-01'].samplesPerSecond).toBe(100);
    expect(at(T0 + MIN)['user-01']).toMatchObject({ samplesPerSecond: 0, openDrift: true, lastDrift: T0 + MIN });
    s.apply(calibration('user-01', 'identity'), T0 + MIN + 1);
    expect(at(T0 + MIN + 2)['user-01'].openDrift).toBe(true);
    s.apply(calibration('user-01'), T0 + MIN + 3);
    const after = at(T0 + MIN + 4);
    expect(after['user-01']).toMatchObject({ openDrift: false, lastCalibration: T0 + MIN + 3 });
    expect(after['user-02'].openDrift).toBe(true);
    // A later drift opens it again.
    s.apply(drift('user-01'), T0 + MIN + 5);
    expect(at(T0 + MIN + 6)['user-01'].openDrift).toBe(true);
  });

  it('keeps memory bounded: devices capped, stale ones dropped; options checked', () => {
    const s = new DashboardState({ maxDevices: 3, staleDeviceMs: 10 * MIN });
    for (let i = 0; i < 5; i++) s.readings(`user-0${i}`, 50, T0 + i);
    expect(s.snapshot(T0).devices.map((d) => d.device)).toEqual(['user-02', 'user-03', 'user-04']);
    s.readings('user-03', 50, T0 + 5 * MIN);
    expect(s.snapshot(T0 + 11 * MIN).devices.map((d) => d.device)).toEqual(['user-03']);
    expect(s.records).toBe(6);
    const versions = new DashboardState({ maxEvents: 2 });
    for (const version of [1, 2, 3]) {
      const r = record('dev.activity-tracking.prediction.v1', { version, label: 'WALKING' });
      versions.apply(decodeEvent(r.headers, r.value), T0);
    }
    expect(versions.snapshot(T0).accuracy.map((a) => a.version)).toEqual([2, 3]);
    expect(() => new DashboardState({ rateWindowMs: 1_500 })).toThrow(InvalidOptionError);
    expect(() => new DashboardState({ maxDevices: 0 })).toThrow(/maxDevices/);
  });
});
