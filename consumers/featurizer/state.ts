import { SnapshotInvalidError } from '../../src/errors.ts';
import { Featurizer } from '../../src/features/index.ts';
import { crc32 } from '../../src/features/snapshot.ts';

/** A device's featurizer state between messages (see processor.ts). */
export interface DeviceState {
  featurizer: Featurizer;
  /** Stream sequence of the featurizer's sample 0. */
  base: number;
  /** Next sequence expected. */
  next: number;
  spans: { sequence: number; count: number; timestamp: number; offset: number }[];
  partition: number;
}

/**
 * A device's checkpoint (little-endian): magic "FZD1" u32 | header length u32 | header JSON (base, next,
 * spans, partition) | featurizer snapshot ("FATZ", its own CRC) | crc32 of all before it u32.
 */
const MAGIC = 0x31445a46;

export function encodeDevice(s: DeviceState): Uint8Array {
  const json = Buffer.from(JSON.stringify({ base: s.base, next: s.next, spans: s.spans, partition: s.partition }));
  const snap = s.featurizer.snapshot();
  const out = Buffer.alloc(8 + json.length + snap.length + 4);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(json.length, 4);
  json.copy(out, 8);
  out.set(snap, 8 + json.length);
  out.writeUInt32LE(crc32(out.subarray(0, out.length - 4)), out.length - 4);
  return out;
}

export function decodeDevice(bytes: Uint8Array): DeviceState {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string): never => {
    throw new SnapshotInvalidError(`featurizer device checkpoint is invalid: ${why}`);
  };
  if (b.length < 12 || b.readUInt32LE(0) !== MAGIC) fail('bad magic');
  if (b.readUInt32LE(b.length - 4) !== crc32(b.subarray(0, b.length - 4))) fail('checksum mismatch');
  const jsonLength = b.readUInt32LE(4);
  if (8 + jsonLength + 4 > b.length) fail('truncated header');
  let header: Omit<DeviceState, 'featurizer'>;
  try {
    header = JSON.parse(b.subarray(8, 8 + jsonLength).toString()) as Omit<DeviceState, 'featurizer'>;
  } catch {
    return fail('header is not JSON');
  }
  const featurizer = Featurizer.restore(b.subarray(8 + jsonLength, b.length - 4));
  return { ...header, featurizer };
}
