import { endianness } from 'node:os';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { InvalidValueError } from '../errors.ts';
import { DecodeError } from './decode-error.ts';
import { ajv, EVENT_TYPES, schemaOf } from './registry.ts';
import type { FeatureVector } from './types.gen.ts';

/**
 * Compact binary body of a feature-vector event
 * (`content-type: application/vnd.activity-tracking.feature-vector+binary`).
 * The values travel as raw little-endian float64, bit for bit (the drift
 * detectors are bit-exact against river); everything else is a small JSON
 * header. Layout (all little-endian):
 *
 *   0  u8   format version (1)
 *   1  u8   flags (none defined; must be 0)
 *   2  u16  header length h (bytes of UTF-8 JSON, space-padded so that 8 + h is a multiple of 8)
 *   4  u32  value count n
 *   8  h bytes JSON: the event data without `values` (device, featureSet, window, source, label,
 *      predicted, calibration: whatever optional fields the message has)
 *   8 + h  n × float64 values
 *
 * Why a JSON header rather than fixed binary fields: it is ~240 of ~2 000 bytes and parsing it
 * takes ~1.4 µs of the 3.6 µs a binary vector costs to decode and validate (JSON: 19 µs;
 * bench/cloudevents.ts, 2-core VM). Fixed fields would save about 1 µs of the ~200 µs the featurizer
 * spends per vector, for a layout with a flag per optional field; the JSON header carries every
 * optional field of the schema as it is and is checked by the same compiled schema, minus `values`,
 * as a JSON body. The padding puts the float64 block on an 8-byte boundary of the body.
 *
 * Numbers: the schema refuses NaN and ±Infinity (ajv `strictNumbers`), so both encoder and decoder
 * refuse them here as well (`non-finite`, one pass over the values, no per-value schema work).
 * Subnormals travel exactly in both encodings; −0 keeps its sign here where JSON writes 0.
 */
export const FEATURE_VECTOR_BINARY_CONTENT_TYPE = 'application/vnd.activity-tracking.feature-vector+binary';

const VERSION = 1;
const PREFIX_BYTES = 8;
const MAX_HEADER_BYTES = 0xffff;
const MAX_VALUES = 4096;
const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * The feature-vector schema with `values` checked as an array of 1 to 4096 items only: the values
 * come from a float64 block, so only their finiteness is left to check, by hand, in one pass.
 */
export const validateFeatureVectorHeader: ValidateFunction = (() => {
  const { $id: _, ...schema } = schemaOf(EVENT_TYPES.featureVector) as Record<string, unknown>;
  const properties = schema.properties as Record<string, Record<string, unknown>>;
  const { items: __, ...values } = properties.values;
  return ajv.compile({ ...schema, properties: { ...properties, values } });
})();

/** The index of the first value that is NaN or ±Infinity, else -1. */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    // v - v is 0 for every finite v and NaN for NaN and ±Infinity.
    if (v - v !== 0) return i;
  }
  return -1;
}

/**
 * Writes the binary body of a vector. Checks only the header's size: encodeEvent validates the data first (header
 * schema plus finiteness), as it does for JSON.
 */
export function encodeFeatureVectorBinary(data: FeatureVector): Buffer {
  const { values, ...header } = data;
  const text = JSON.stringify(header);
  const textBytes = Buffer.byteLength(text, 'utf8');
  const h = textBytes + ((8 - ((PREFIX_BYTES + textBytes) % 8)) % 8);
  // Only an unbounded string (source.topic) can get here; the rest of the header is bounded by the schema.
  if (h > MAX_HEADER_BYTES) {
    throw new InvalidValueError(
      `the vector's metadata is ${textBytes} bytes of JSON; the binary body holds at most ${MAX_HEADER_BYTES - 7}`,
    );
  }
  const n = values.length;
  const start = PREFIX_BYTES + h;
  const out = Buffer.allocUnsafe(start + n * 8);
  out.writeUInt8(VERSION, 0);
  out.writeUInt8(0, 1);
  out.writeUInt16LE(h, 2);
  out.writeUInt32LE(n, 4);
  out.write(text, PREFIX_BYTES, 'utf8');
  out.fill(0x20, PREFIX_BYTES + textBytes, start);
  if (LITTLE_ENDIAN && (out.byteOffset + start) % 8 === 0) {
    new Float64Array(out.buffer, out.byteOffset + start, n).set(values);
  } else {
    for (let i = 0, o = start; i < n; i++, o += 8) out.writeDoubleLE(values[i], o);
  }
  return out;
}

function malformed(message: string): DecodeError {
  return new DecodeError('malformed-binary', `feature-vector+binary: ${message}`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a feature-vector+binary body back into the JSON shape. Checks the layout (lengths, version,
 * the header is a JSON object without `values`) and that every value is finite; the caller validates
 * the result with validateFeatureVectorHeader and the cross-field rules, like a JSON body.
 */
export function decodeFeatureVectorBinary(value: Uint8Array): FeatureVector {
  if (value.length < PREFIX_BYTES) {
    throw malformed(`body is ${value.length} bytes, shorter than the ${PREFIX_BYTES}-byte prefix`);
  }
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const version = view.getUint8(0);
  if (version !== VERSION) throw malformed(`format version ${version}; this decoder reads ${VERSION}`);
  const flags = view.getUint8(1);
  if (flags !== 0) throw malformed(`unknown flags 0x${flags.toString(16)}`);
  const h = view.getUint16(2, true);
  const n = view.getUint32(4, true);
  if (n === 0 || n > MAX_VALUES) throw malformed(`value count ${n} is outside 1..${MAX_VALUES}`);
  const start = PREFIX_BYTES + h;
  const end = start + n * 8;
  if (end !== value.length) {
    throw malformed(
      `a ${h}-byte header and ${n} values make ${end} bytes, the body has ${value.length}` +
        (end > value.length ? '' : ` (${value.length - end} trailing)`),
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(utf8.decode(value.subarray(PREFIX_BYTES, start)));
  } catch (err) {
    throw malformed(err instanceof SyntaxError ? `header is not JSON: ${err.message}` : 'header is not valid UTF-8');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw malformed('header is not a JSON object');
  }
  if ('values' in header) throw malformed('header holds "values"; they belong in the float64 block');
  const values = new Array<number>(n);
  for (let i = 0, o = start; i < n; i++, o += 8) values[i] = view.getFloat64(o, true);
  const bad = firstNonFinite(values);
  if (bad >= 0) {
    throw new DecodeError(
      'non-finite',
      `${EVENT_TYPES.featureVector}: /values/${bad} is ${values[bad]}, not a finite number`,
    );
  }
  (header as FeatureVector).values = values as FeatureVector['values'];
  return header as FeatureVector;
}
