import { InvalidValueError } from '../errors.ts';
import { DecodeError } from './decode-error.ts';
import { labelsLength, readLabels, writeLabels } from './readings-binary.ts';
import type { SensorReadingsV2 } from './types.gen.ts';

/**
 * The compact binary body of a timed-readings event (sensor-readings v2), under the same content type
 * as v1's (`application/vnd.activity-tracking.readings+binary`): the event type says which layout, and
 * the body's first byte says it again (format 2). Layout (all little-endian):
 *
 *   0  u8   format version (2)
 *   1  u8   flags: bit 0 = float64 samples (else float32), bit 1 = labels follow, bit 2 = start + rate
 *           (else one float64 timestamp per sample)
 *   2  u16  device id length d (UTF-8 bytes)
 *   4  u32  sample count n
 *   8  u8   sensor: 0 acc, 1 gyro, 2 both (3, 3 or 6 values a row)
 *   9  7 bytes zero
 *   16 f64  start (epoch ms), 24 f64 rate (Hz): with bit 2, else zero
 *   32 d bytes device id, then (without bit 2) n × f64 timestamps, then n × width floats, row-major
 *   labels: as format 1 (u8 k, k × (u8 length, UTF-8), n × u8 index; 0 = null)
 *
 * Timestamps stay float64 whatever the samples' precision: epoch milliseconds with fractions need it.
 */
const VERSION = 2;
const FLAG_F64 = 1;
const FLAG_LABELS = 2;
const FLAG_START_RATE = 4;
const HEADER_BYTES = 32;
const SENSORS = ['acc', 'gyro', 'both'] as const;
/** Values a row of each timed-readings sensor form holds: acc x, y, z; gyro x, y, z; or both. */
export const TIMED_ROW_WIDTH = { acc: 3, gyro: 3, both: 6 } as const;

export function encodeReadingsBinaryV2(data: SensorReadingsV2, options: { precision?: 32 | 64 } = {}): Buffer {
  const f64 = options.precision === 64;
  const n = data.samples.length;
  const width = TIMED_ROW_WIDTH[data.sensor];
  const device = Buffer.from(data.device, 'utf8');
  const labelBytes = data.labels ? labelsLength(data.labels) : 0;
  const timed = data.timestamps !== undefined;
  const out = Buffer.alloc(HEADER_BYTES + device.length + (timed ? n * 8 : 0) + n * width * (f64 ? 8 : 4) + labelBytes);
  out.writeUInt8(VERSION, 0);
  out.writeUInt8((f64 ? FLAG_F64 : 0) | (data.labels ? FLAG_LABELS : 0) | (timed ? 0 : FLAG_START_RATE), 1);
  out.writeUInt16LE(device.length, 2);
  out.writeUInt32LE(n, 4);
  out.writeUInt8(SENSORS.indexOf(data.sensor), 8);
  if (!timed) {
    out.writeDoubleLE(data.start!, 16);
    out.writeDoubleLE(data.rate!, 24);
  }
  let o = HEADER_BYTES + device.copy(out, HEADER_BYTES);
  if (timed) for (const t of data.timestamps!) o = out.writeDoubleLE(t, o);
  for (const row of data.samples) {
    if (row.length !== width)
      throw new InvalidValueError(`${data.sensor} readings are rows of ${width} values, got a row of ${row.length}`);
    for (let c = 0; c < width; c++) o = f64 ? out.writeDoubleLE(row[c], o) : out.writeFloatLE(row[c], o);
  }
  if (data.labels) writeLabels(out, o, data.labels);
  return out;
}

const malformed = (message: string) => new DecodeError('malformed-binary', `readings+binary (format 2): ${message}`);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads a format-2 body back into the JSON shape; the caller validates it against the v2 schema. */
export function decodeReadingsBinaryV2(value: Uint8Array): SensorReadingsV2 {
  if (value.length < HEADER_BYTES) throw malformed(`body is ${value.length} bytes, shorter than the header`);
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const version = view.getUint8(0);
  if (version !== VERSION) throw malformed(`format version ${version}; timed readings use format ${VERSION}`);
  const flags = view.getUint8(1);
  if (flags & ~(FLAG_F64 | FLAG_LABELS | FLAG_START_RATE)) throw malformed(`unknown flags 0x${flags.toString(16)}`);
  const sensor = SENSORS[view.getUint8(8)];
  if (sensor === undefined) throw malformed(`sensor code ${view.getUint8(8)} is not 0 (acc), 1 (gyro) or 2 (both)`);
  const f64 = (flags & FLAG_F64) !== 0;
  const timed = (flags & FLAG_START_RATE) === 0;
  const d = view.getUint16(2, true);
  const n = view.getUint32(4, true);
  const width = TIMED_ROW_WIDTH[sensor];
  let o = HEADER_BYTES + d;
  const samplesEnd = o + (timed ? n * 8 : 0) + n * width * (f64 ? 8 : 4);
  if (samplesEnd > value.length)
    throw malformed(`header announces ${n} samples, the body ends after ${value.length} of ${samplesEnd} bytes`);
  let device: string;
  try {
    device = utf8.decode(value.subarray(HEADER_BYTES, o));
  } catch {
    throw malformed('device id is not valid UTF-8');
  }
  const data = { device, sensor } as SensorReadingsV2;
  if (timed) {
    const times = new Array<number>(n);
    for (let i = 0; i < n; i++, o += 8) times[i] = view.getFloat64(o, true);
    data.timestamps = times as SensorReadingsV2['timestamps'];
  } else {
    data.start = view.getFloat64(16, true);
    data.rate = view.getFloat64(24, true);
  }
  const samples: number[][] = new Array(n);
  for (let i = 0; i < n; i++) {
    const row = new Array<number>(width);
    for (let c = 0; c < width; c++, o += f64 ? 8 : 4)
      row[c] = f64 ? view.getFloat64(o, true) : view.getFloat32(o, true);
    samples[i] = row;
  }
  data.samples = samples as SensorReadingsV2['samples'];
  if (flags & FLAG_LABELS) {
    const read = readLabels(value, o, n, malformed);
    data.labels = read.labels;
    o = read.end;
  }
  if (o !== value.length) throw malformed(`${value.length - o} trailing bytes after the last field`);
  return data;
}
