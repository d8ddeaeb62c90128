import zlib from 'node:zlib';
import { SnapshotInvalidError } from '../errors.ts';

/**
 * Byte layout of a featurizer snapshot (little-endian):
 * magic u32 | version u8 | 3 zero bytes | sampleRateHz f64 | gravityCutoffHz f64 | samples f64 |
 * noiseCutoffHz f64 | filter state f64 × STATE | axis ring f64 × RING | timestamps f64 × WINDOW |
 * labels i8 × WINDOW | crc32 u32.
 * Version 3 added the input conditioning (noise cut-off; median history and noise filter in the
 * filter state); a version 2 snapshot holds no such state and is refused.
 * The CRC makes a flipped bit in the ring (which no range check could see) a SnapshotInvalidError
 * instead of silently different features.
 */
const SNAPSHOT_MAGIC = 0x5a544146; // "FATZ"
const SNAPSHOT_VERSION = 3;
const HEADER = 40;

export interface FeaturizerState {
  sampleRateHz: number;
  gravityCutoffHz: number;
  noiseCutoffHz: number;
  samples: number;
  filter: Float64Array;
  ring: Float64Array;
  times: Float64Array;
  labels: Int8Array;
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/**
 * node:zlib's crc32 (Node 20.15+ and 22.2+; looked up, not imported, so that an older Node 20 still loads
 * this module): a checkpoint checksums every stream's snapshot twice (its own and its frame's), and this
 * table loop was a third of a featurizer checkpoint's time (bench/checkpoint.ts, issue 17).
 */
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

/** CRC-32 (IEEE, as zlib and PNG). */
export function crc32(bytes: Uint8Array): number {
  return nativeCrc32 ? nativeCrc32(bytes) : crc32Table(bytes);
}

/** The table-driven CRC-32, for a runtime without node:zlib's (and to check that one against). */
export function crc32Table(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function size(s: Pick<FeaturizerState, 'filter' | 'ring' | 'times' | 'labels'>): number {
  return HEADER + 8 * (s.filter.length + s.ring.length + s.times.length) + s.labels.length + 4;
}

/** A little-endian host: a Float64Array's bytes are already the snapshot's layout. */
const LITTLE_ENDIAN = new Uint8Array(Float64Array.of(1).buffer)[7] === 0x3f;

export function encodeState(s: FeaturizerState, littleEndianHost = LITTLE_ENDIAN): Uint8Array {
  const bytes = new Uint8Array(size(s));
  const view = new DataView(bytes.buffer);
  view.setUint32(0, SNAPSHOT_MAGIC, true);
  view.setUint8(4, SNAPSHOT_VERSION);
  view.setFloat64(8, s.sampleRateHz, true);
  view.setFloat64(16, s.gravityCutoffHz, true);
  view.setFloat64(24, s.samples, true);
  view.setFloat64(32, s.noiseCutoffHz, true);
  let o = HEADER;
  if (littleEndianHost) {
    // Copied whole (HEADER keeps the floats 8-byte aligned): the per-value DataView writes below were a
    // fifth of a featurizer checkpoint's time (bench/checkpoint.ts). The bytes are the same.
    for (const arr of [s.filter, s.ring, s.times]) {
      new Float64Array(bytes.buffer, o, arr.length).set(arr);
      o += 8 * arr.length;
    }
    bytes.set(new Uint8Array(s.labels.buffer, s.labels.byteOffset, s.labels.length), o);
    o += s.labels.length;
  } else {
    for (const arr of [s.filter, s.ring, s.times]) {
      for (let i = 0; i < arr.length; i++, o += 8) view.setFloat64(o, arr[i], true);
    }
    for (let i = 0; i < s.labels.length; i++) view.setInt8(o++, s.labels[i]);
  }
  view.setUint32(o, crc32(bytes.subarray(0, o)), true);
  return bytes;
}

/**
 * Reads a snapshot into `into` (whose arrays give the expected shape).
 * `labelRange` bounds the label codes; anything off is a SnapshotInvalidError.
 */
export function decodeState(bytes: Uint8Array, into: FeaturizerState, labelRange: [number, number]): void {
  const expected = size(into);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Magic and version first, so an older format is named as such rather than as a wrong length.
  if (bytes.byteLength >= 8) {
    if (view.getUint32(0, true) !== SNAPSHOT_MAGIC)
      throw new SnapshotInvalidError('not a featurizer snapshot (bad magic)');
    const version = view.getUint8(4);
    if (version !== SNAPSHOT_VERSION) {
      throw new SnapshotInvalidError(`featurizer snapshot version ${version}, this code reads ${SNAPSHOT_VERSION}`);
    }
  }
  if (bytes.byteLength !== expected) {
    throw new SnapshotInvalidError(`featurizer snapshot has ${bytes.byteLength} bytes, expected ${expected}`);
  }
  const body = expected - 4;
  if (view.getUint32(body, true) !== crc32(bytes.subarray(0, body))) {
    throw new SnapshotInvalidError('featurizer snapshot checksum mismatch (corrupt or truncated)');
  }
  into.sampleRateHz = view.getFloat64(8, true);
  into.gravityCutoffHz = view.getFloat64(16, true);
  into.samples = view.getFloat64(24, true);
  into.noiseCutoffHz = view.getFloat64(32, true);
  if (!Number.isSafeInteger(into.samples) || into.samples < 0) {
    throw new SnapshotInvalidError(`featurizer snapshot sample count ${into.samples} is not a count`);
  }
  let o = HEADER;
  for (const arr of [into.filter, into.ring, into.times]) {
    for (let i = 0; i < arr.length; i++, o += 8) arr[i] = view.getFloat64(o, true);
  }
  for (let i = 0; i < into.labels.length; i++) {
    const code = view.getInt8(o++);
    if (code < labelRange[0] || code > labelRange[1]) {
      throw new SnapshotInvalidError(`featurizer snapshot label code ${code} out of range`);
    }
    into.labels[i] = code;
  }
}
