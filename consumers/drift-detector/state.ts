import { DetectorBank } from '../../src/drift/bank.ts';
import { SnapshotInvalidError } from '../../src/errors.ts';
import { FEATURE_NAMES } from '../../src/features/index.ts';
import { crc32 } from '../../src/features/snapshot.ts';
import { Confirmation, type ConfirmationOptions, type Pending } from './confirm.ts';

/**
 * A drift-detector stream's checkpoint (little-endian):
 * magic "DDS1" u32 | header length u32 | header JSON (activity, partition, pending alarms, offsets kept)
 * | bank snapshot length u32 | bank snapshot ("ADWB") | offsets f64 × kept | crc32 of all before it u32.
 * Only the offsets of the last `min(updates, memory)` vectors are kept: the ring's older slots are
 * never read again.
 */
const MAGIC = 0x31534444;

export interface DetectorStreamState {
  bank: DetectorBank;
  confirmation: Confirmation;
  offsets: Float64Array;
  activity: string;
  partition: number;
}

interface Header {
  activity: string;
  partition: number;
  pending: Pending[];
  kept: number;
}

export function encodeStream(s: DetectorStreamState): Uint8Array {
  const memory = s.offsets.length;
  const kept = Math.min(s.bank.updates, memory);
  const header: Header = {
    activity: s.activity,
    partition: s.partition,
    // meanBefore may be NaN (unknown): JSON writes null, restore reads it back as NaN.
    pending: [...s.confirmation.pending()],
    kept,
  };
  const json = Buffer.from(JSON.stringify(header));
  const bank = s.bank.snapshot();
  const out = Buffer.alloc(8 + json.length + 4 + bank.length + kept * 8 + 4);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(json.length, 4);
  json.copy(out, 8);
  let o = 8 + json.length;
  out.writeUInt32LE(bank.length, o);
  out.set(bank, o + 4);
  o += 4 + bank.length;
  const updates = s.bank.updates;
  for (let i = updates - kept; i < updates; i++, o += 8) out.writeDoubleLE(s.offsets[i % memory], o);
  out.writeUInt32LE(crc32(out.subarray(0, o)), o);
  return out;
}

export function decodeStream(
  bytes: Uint8Array,
  memory: number,
  confirmation: ConfirmationOptions | undefined,
): DetectorStreamState {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string): never => {
    throw new SnapshotInvalidError(`drift-detector stream checkpoint is invalid: ${why}`);
  };
  if (b.length < 16 || b.readUInt32LE(0) !== MAGIC) fail('bad magic');
  if (b.readUInt32LE(b.length - 4) !== crc32(b.subarray(0, b.length - 4))) fail('checksum mismatch');
  const jsonLength = b.readUInt32LE(4);
  if (8 + jsonLength + 4 > b.length) fail('truncated header');
  let header: Header;
  try {
    header = JSON.parse(b.subarray(8, 8 + jsonLength).toString()) as Header;
  } catch {
    return fail('header is not JSON');
  }
  let o = 8 + jsonLength;
  const bankLength = b.readUInt32LE(o);
  if (o + 4 + bankLength + header.kept * 8 + 4 !== b.length) fail('lengths do not add up');
  const bank = DetectorBank.restore(b.subarray(o + 4, o + 4 + bankLength), FEATURE_NAMES);
  o += 4 + bankLength;
  if (header.kept > memory) fail(`keeps ${header.kept} offsets, more than the ${memory} this detector remembers`);
  const offsets = new Float64Array(memory);
  const updates = bank.updates;
  for (let i = updates - header.kept; i < updates; i++, o += 8) offsets[i % memory] = b.readDoubleLE(o);
  const pending = header.pending.map((p) => ({
    ...p,
    finding: { ...p.finding, meanBefore: p.finding.meanBefore ?? Number.NaN },
  }));
  return {
    bank,
    confirmation: Confirmation.restore(confirmation, pending),
    offsets,
    activity: header.activity,
    partition: header.partition,
  };
}
