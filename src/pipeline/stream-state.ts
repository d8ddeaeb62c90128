import { SnapshotInvalidError } from '../errors.ts';
import { crc32 } from '../features/snapshot.ts';
import type { TopicPartition } from '../transport/types.ts';
import type { Checkpointable, StreamSnapshot } from './checkpoint.ts';

/** The bookkeeping the checkpoint runtime (checkpoint.ts) needs in every stream's state. */
export interface Tracked {
  /** The input partition the stream's records come from. */
  partition: number;
  /** The last input offset in this state; records at or below it are skipped (after a restore). */
  appliedUpTo: number;
  /** Changed since the last checkpoint. */
  dirty: boolean;
}

/** A stream's state as its codec writes and reads it, without the bookkeeping. */
export type Untracked<S extends Tracked> = Omit<S, keyof Tracked>;

/**
 * The states of a stateful processor's streams, keyed by stream, and the
 * `Checkpointable` half of the processor: snapshots of the changed streams of
 * a partition, and a partition's state replaced by restored snapshots. The
 * processor keeps what its state holds and how it is encoded.
 */
export class StreamStates<S extends Tracked> implements Checkpointable {
  readonly #streams = new Map<string, S>();
  readonly #encode: (state: S) => Uint8Array;
  readonly #decode: (bytes: Uint8Array) => Untracked<S>;

  constructor(encode: (state: S) => Uint8Array, decode: (bytes: Uint8Array) => Untracked<S>) {
    this.#encode = encode;
    this.#decode = decode;
  }

  get size(): number {
    return this.#streams.size;
  }

  get(key: string): S | undefined {
    return this.#streams.get(key);
  }

  /** A new state for stream `key` of `partition` (replacing any), clean and with no record applied. */
  start(key: string, state: Untracked<S>, partition: number): S {
    const tracked = { ...state, partition, appliedUpTo: -1, dirty: false } as S;
    this.#streams.set(key, tracked);
    return tracked;
  }

  onRevoked(partitions: readonly TopicPartition[]): void {
    dropRevoked(this.#streams, partitions);
  }

  takeCheckpoint(partition: number): StreamSnapshot[] {
    const out: StreamSnapshot[] = [];
    for (const [key, state] of this.#streams) {
      if (state.partition !== partition || !state.dirty) continue;
      out.push({ key, bytes: this.#encode(state), offset: state.appliedUpTo });
      state.dirty = false;
    }
    return out;
  }

  changedStreams(partition: number): string[] {
    const keys: string[] = [];
    for (const [key, state] of this.#streams) if (state.partition === partition && state.dirty) keys.push(key);
    return keys;
  }

  snapshotStream(key: string): StreamSnapshot | undefined {
    const state = this.#streams.get(key);
    if (!state?.dirty) return undefined;
    const bytes = this.#encode(state);
    state.dirty = false;
    return { key, bytes, offset: state.appliedUpTo };
  }

  restore(partition: number, snapshots: StreamSnapshot[]): void {
    dropRevoked(this.#streams, [{ partition }]);
    for (const snap of snapshots)
      this.#streams.set(snap.key, {
        ...this.#decode(snap.bytes),
        partition,
        appliedUpTo: snap.offset,
        dirty: false,
      } as S);
  }
}

/** True when the record at `offset` is already in the state restored from a checkpoint (its outputs were published then). */
export function alreadyApplied(state: Tracked, offset: number): boolean {
  return offset <= state.appliedUpTo;
}

/** Records that the state now includes the record at `offset`, so the next checkpoint writes it. */
export function markApplied(state: Tracked, offset: number): void {
  state.appliedUpTo = offset;
  state.dirty = true;
}

/**
 * The frame of a stream checkpoint (little-endian):
 * magic u32 | header length u32 | header JSON | body | crc32 of all before it u32.
 */
export function encodeFrame(magic: number, header: unknown, body: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  // Unzeroed: every byte is written below (zero-filling a detector stream's 30 KB twice showed in bench:checkpoint).
  const out = Buffer.allocUnsafe(8 + json.length + body.length + 4);
  out.writeUInt32LE(magic, 0);
  out.writeUInt32LE(json.length, 4);
  json.copy(out, 8);
  out.set(body, 8 + json.length);
  out.writeUInt32LE(crc32(out.subarray(0, out.length - 4)), out.length - 4);
  return out;
}

/**
 * The header and body of a frame written by `encodeFrame`; a SnapshotInvalidError
 * naming `what` ("featurizer device checkpoint") when the frame is not one.
 */
export function decodeFrame<H>(bytes: Uint8Array, magic: number, what: string): { header: H; body: Buffer } {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = frameFailure(what);
  if (b.length < 12 || b.readUInt32LE(0) !== magic) fail('bad magic');
  if (b.readUInt32LE(b.length - 4) !== crc32(b.subarray(0, b.length - 4))) fail('checksum mismatch');
  const jsonLength = b.readUInt32LE(4);
  if (8 + jsonLength + 4 > b.length) fail('truncated header');
  let header: H;
  try {
    header = JSON.parse(b.subarray(8, 8 + jsonLength).toString()) as H;
  } catch {
    return fail('header is not JSON');
  }
  return { header, body: b.subarray(8 + jsonLength, b.length - 4) };
}

/** A thrower of the SnapshotInvalidError of a checkpoint of `what`. */
export function frameFailure(what: string): (why: string) => never {
  return (why) => {
    throw new SnapshotInvalidError(`${what} is invalid: ${why}`);
  };
}

/** Drops the entries of `state` that belong to partitions this instance no longer owns. */
function dropRevoked<T extends { partition: number }>(
  state: Map<string, T>,
  partitions: readonly { partition: number }[],
): void {
  const lost = new Set(partitions.map((p) => p.partition));
  for (const [key, value] of state) if (lost.has(value.partition)) state.delete(key);
}
