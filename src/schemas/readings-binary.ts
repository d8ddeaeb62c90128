import { InvalidValueError } from '../errors.ts';
import { DecodeError } from './decode-error.ts';
import type { SensorReadings } from './types.gen.ts';

/**
 * Compact binary body of a sensor-readings event
 * (`content-type: application/vnd.activity-tracking.readings+binary`).
 * Samples travel as little-endian IEEE 754 floats instead of decimal text:
 * 50 samples take 1.2 kB as float32 where JSON needs about 6 kB. Decoding
 * yields the same object as the JSON body, which then passes the same
 * schema validation. Layout (all little-endian):
 *
 *   0  u8   format version (1)
 *   1  u8   flags: bit 0 = float64 samples (else float32), bit 1 = labels follow
 *   2  u16  device id length d (UTF-8 bytes)
 *   4  u32  sample count n
 *   8  f64  timestamp (epoch ms of the first sample)
 *   16 f64  sample rate (Hz)
 *   24 f64  sequence of the first sample (an integer below 2^53)
 *   32 d bytes device id, then n × 6 floats, row-major (acc x/y/z, gyro x/y/z)
 *   labels: u8 k distinct labels, k × (u8 length, UTF-8 bytes), then n × u8 index (0 = null, i = label i)
 *
 * Float32 keeps about 7 significant digits, finer than a phone IMU resolves
 * (UCI HAR readings carry 7-8 digits of noise); ask for float64 to round-trip exactly.
 */
export const READINGS_BINARY_CONTENT_TYPE = 'application/vnd.activity-tracking.readings+binary';

const VERSION = 1;
const FLAG_F64 = 1;
const FLAG_LABELS = 2;
const HEADER_BYTES = 32;
/** A label index is one byte and 0 means null. */
const MAX_DISTINCT_LABELS = 255;

export interface BinaryEncodeOptions {
  /** Bits per sample value. @defaultValue 32 */
  precision?: 32 | 64;
}

export function encodeReadingsBinary(data: SensorReadings, options: BinaryEncodeOptions = {}): Buffer {
  const f64 = options.precision === 64;
  const n = data.samples.length;
  const device = Buffer.from(data.device, 'utf8');
  const labelBytes = data.labels ? labelsLength(data.labels) : 0;
  const width = f64 ? 8 : 4;
  const out = Buffer.allocUnsafe(HEADER_BYTES + device.length + n * 6 * width + labelBytes);
  out.writeUInt8(VERSION, 0);
  out.writeUInt8((f64 ? FLAG_F64 : 0) | (data.labels ? FLAG_LABELS : 0), 1);
  out.writeUInt16LE(device.length, 2);
  out.writeUInt32LE(n, 4);
  out.writeDoubleLE(data.timestamp, 8);
  out.writeDoubleLE(data.sampleRate, 16);
  out.writeDoubleLE(data.sequence, 24);
  let o = HEADER_BYTES + device.copy(out, HEADER_BYTES);
  for (let i = 0; i < n; i++) {
    const row = data.samples[i];
    for (let c = 0; c < 6; c++) {
      o = f64 ? out.writeDoubleLE(row[c], o) : out.writeFloatLE(row[c], o);
    }
  }
  if (data.labels) writeLabels(out, o, data.labels);
  return out;
}

/** Bytes of the label section: `u8` k, k × (`u8` length, UTF-8), one `u8` index per sample (0 = null). */
export function labelsLength(labels: readonly (string | null)[]): number {
  const table = [...new Set(labels.filter((l): l is string => l !== null))];
  if (table.length > MAX_DISTINCT_LABELS)
    throw new InvalidValueError(
      `${table.length} distinct labels; the binary body holds at most ${MAX_DISTINCT_LABELS}`,
    );
  return 1 + labels.length + table.reduce((a, l) => a + 1 + Buffer.byteLength(l, 'utf8'), 0);
}

/** Writes the label section at `o`; returns the offset after it. */
export function writeLabels(out: Buffer, o: number, labels: readonly (string | null)[]): number {
  const table = [...new Set(labels.filter((l): l is string => l !== null))];
  o = out.writeUInt8(table.length, o);
  const index = new Map<string, number>();
  for (let i = 0; i < table.length; i++) {
    const bytes = Buffer.from(table[i], 'utf8');
    if (bytes.length > 255) throw new InvalidValueError(`label "${table[i].slice(0, 20)}…" is over 255 bytes`);
    o = out.writeUInt8(bytes.length, o);
    o += bytes.copy(out, o);
    index.set(table[i], i + 1);
  }
  for (const label of labels) o = out.writeUInt8(label === null ? 0 : index.get(label)!, o);
  return o;
}

/** Reads the label section of `n` samples at `o`: the labels and the offset after them. */
export function readLabels(
  value: Uint8Array,
  o: number,
  n: number,
  malformed: (message: string) => DecodeError,
): { labels: (string | null)[]; end: number } {
  if (o >= value.length) throw malformed('labels flag set, the label table is missing');
  const k = value[o++];
  const table: (string | null)[] = [null];
  for (let j = 0; j < k; j++) {
    const len = o < value.length ? value[o++] : -1;
    if (len < 0 || o + len > value.length) throw malformed(`label table entry ${j + 1} runs past the end`);
    try {
      table.push(utf8.decode(value.subarray(o, o + len)));
    } catch {
      throw malformed(`label table entry ${j + 1} is not valid UTF-8`);
    }
    o += len;
  }
  if (o + n > value.length) throw malformed(`${n} label indices announced, ${value.length - o} bytes left`);
  const labels: (string | null)[] = new Array(n);
  for (let i = 0; i < n; i++, o++) {
    if (value[o] > k) throw malformed(`label index ${value[o]} of sample ${i} is beyond the ${k}-entry table`);
    labels[i] = table[value[o]];
  }
  return { labels, end: o };
}

function malformed(message: string): DecodeError {
  return new DecodeError('malformed-binary', `readings+binary: ${message}`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a readings+binary body back into the JSON shape. Checks the layout
 * only (lengths, version, label indices); the caller validates the result
 * against the sensor-readings schema like any JSON body.
 */
export function decodeReadingsBinary(value: Uint8Array): SensorReadings {
  if (value.length < HEADER_BYTES) {
    throw malformed(`body is ${value.length} bytes, shorter than the ${HEADER_BYTES}-byte header`);
  }
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const version = view.getUint8(0);
  if (version !== VERSION) throw malformed(`format version ${version}; this decoder reads ${VERSION}`);
  const flags = view.getUint8(1);
  if (flags & ~(FLAG_F64 | FLAG_LABELS)) throw malformed(`unknown flags 0x${flags.toString(16)}`);
  const f64 = (flags & FLAG_F64) !== 0;
  const d = view.getUint16(2, true);
  const n = view.getUint32(4, true);
  const width = f64 ? 8 : 4;
  let o = HEADER_BYTES + d;
  const samplesEnd = o + n * 6 * width;
  if (samplesEnd > value.length) {
    throw malformed(`header announces ${n} samples, the body ends after ${value.length} of ${samplesEnd} bytes`);
  }
  let device: string;
  try {
    device = utf8.decode(value.subarray(HEADER_BYTES, o));
  } catch {
    throw malformed('device id is not valid UTF-8');
  }
  const samples: number[][] = new Array(n);
  for (let i = 0; i < n; i++) {
    const row = new Array<number>(6);
    for (let c = 0; c < 6; c++, o += width) row[c] = f64 ? view.getFloat64(o, true) : view.getFloat32(o, true);
    samples[i] = row;
  }
  const data: SensorReadings = {
    device,
    timestamp: view.getFloat64(8, true),
    sampleRate: view.getFloat64(16, true),
    sequence: view.getFloat64(24, true),
    samples: samples as SensorReadings['samples'],
  };
  if (flags & FLAG_LABELS) {
    const read = readLabels(value, o, n, malformed);
    data.labels = read.labels;
    o = read.end;
  }
  if (o !== value.length) throw malformed(`${value.length - o} trailing bytes after the last field`);
  return data;
}
