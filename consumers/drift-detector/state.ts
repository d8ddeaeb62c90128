import { DetectorBank } from '../../src/drift/bank.ts';
import { FEATURE_NAMES, FEATURE_SET } from '../../src/features/index.ts';
import { decodeFrame, encodeFrame, frameFailure, type Tracked } from '../../src/pipeline/stream-state.ts';
import { Confirmation, type ConfirmationOptions, type Pending } from './confirm.ts';

/**
 * A drift-detector stream's checkpoint, in the frame of src/pipeline/stream-state.ts: magic "DDS1",
 * header JSON (feature set, activity, partition, pending alarms, offsets kept), body
 * bank snapshot length u32 | bank snapshot ("ADWB") | offsets f64 × kept.
 * Only the offsets of the last `min(updates, memory)` vectors are kept: the ring's older slots are
 * never read again.
 * The bank's own snapshot checks the feature names, but a new feature set can keep the names and
 * change what they measure (har-v3 conditions the inputs): the header names the set, and a
 * checkpoint of another set, or of none (written before the field), is refused.
 */
const MAGIC = 0x31534444;

export interface DetectorStreamState extends Tracked {
  bank: DetectorBank;
  confirmation: Confirmation;
  /**
   * Ring of the offsets of the last `offsetMemory` vectors fed to the bank, vector i at `i % offsetMemory`.
   * Shorter while the bank has seen fewer (`offsetRing`): it has not wrapped yet, so every index still fits.
   */
  offsets: Float64Array;
  activity: string;
  /** Id of the device calibration the bank's vectors were computed under (null: none). */
  calibration: string | null;
}

interface Header {
  featureSet?: string;
  activity: string;
  partition: number;
  pending: Pending[];
  kept: number;
  calibration?: string | null;
}

const FIRST_RING = 16;

/**
 * The ring `offsets` with room for vector `index`: itself when it has, else a copy twice as long (at most
 * `memory`). A full ring of 4096 offsets is 32 KB, a fifth of a bank's memory, and most (device, activity)
 * banks see far fewer vectors (bench:pipeline).
 */
export function offsetRing(offsets: Float64Array, index: number, memory: number): Float64Array {
  if (index < offsets.length || offsets.length >= memory) return offsets;
  let length = Math.max(offsets.length, FIRST_RING);
  while (length <= index) length *= 2;
  const grown = new Float64Array(Math.min(length, memory));
  grown.set(offsets);
  return grown;
}

export function encodeStream(s: DetectorStreamState): Uint8Array {
  // A ring shorter than the detector's memory has not wrapped, and holds every vector so far.
  const memory = s.offsets.length;
  const kept = Math.min(s.bank.updates, memory);
  const header: Header = {
    featureSet: FEATURE_SET,
    activity: s.activity,
    partition: s.partition,
    // meanBefore may be NaN (unknown): JSON writes null, restore reads it back as NaN.
    pending: [...s.confirmation.pending()],
    kept,
    calibration: s.calibration,
  };
  const bank = s.bank.snapshot();
  const body = Buffer.allocUnsafe(4 + bank.length + kept * 8); // every byte is written below
  body.writeUInt32LE(bank.length, 0);
  body.set(bank, 4);
  let o = 4 + bank.length;
  const updates = s.bank.updates;
  for (let i = updates - kept; i < updates; i++, o += 8) body.writeDoubleLE(s.offsets[i % memory], o);
  return encodeFrame(MAGIC, header, body);
}

export function decodeStream(
  bytes: Uint8Array,
  memory: number,
  confirmation: ConfirmationOptions | undefined,
): Omit<DetectorStreamState, keyof Tracked> {
  const what = 'drift-detector stream checkpoint';
  const { header, body } = decodeFrame<Header>(bytes, MAGIC, what);
  const fail = frameFailure(what);
  if (header.featureSet !== FEATURE_SET)
    fail(`it was made for feature set ${header.featureSet ?? 'har-v2-218 (unnamed)'}, not ${FEATURE_SET}`);
  const bankLength = body.length >= 4 ? body.readUInt32LE(0) : -1;
  if (bankLength < 0 || 4 + bankLength + header.kept * 8 !== body.length) fail('lengths do not add up');
  const bank = DetectorBank.restore(body.subarray(4, 4 + bankLength), FEATURE_NAMES);
  let o = 4 + bankLength;
  if (header.kept > memory) fail(`keeps ${header.kept} offsets, more than the ${memory} this detector remembers`);
  const updates = bank.updates;
  const offsets = offsetRing(new Float64Array(0), Math.max(0, updates - 1), memory);
  for (let i = updates - header.kept; i < updates; i++, o += 8) offsets[i % memory] = body.readDoubleLE(o);
  const pending = header.pending.map((p) => ({
    ...p,
    finding: { ...p.finding, meanBefore: p.finding.meanBefore ?? Number.NaN },
  }));
  return {
    bank,
    confirmation: Confirmation.restore(confirmation, pending),
    offsets,
    activity: header.activity,
    calibration: header.calibration ?? null,
  };
}
