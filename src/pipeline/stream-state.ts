import { InvalidOptionError, SnapshotInvalidError } from '../errors.ts';
import { crc32 } from '../features/snapshot.ts';
import type { TopicPartition } from '../transport/types.ts';
import type { Checkpointable, StreamSnapshot } from './checkpoint.ts';
import { SpillDir } from './spill.ts';

/** The bookkeeping the checkpoint runtime (checkpoint.ts) needs in every stream's state. */
export interface Tracked {
  /** The input partition the stream's records come from. */
  partition: number;
  /** The last input offset in this state; records at or below it are skipped (after a restore). */
  appliedUpTo: number;
  /** Changed since the last checkpoint. */
  dirty: boolean;
  /**
   * Clock time of the checkpoint that last found the stream changed (or of its start or restore): no record
   * changed it since, so it has been idle at least this long (to within one checkpoint interval).
   */
  seenAt: number;
}

/** Idle streams out of memory (docs/operations.md, "Idle streams"). */
export interface EvictionOptions {
  /**
   * Milliseconds without a record after which a stream whose newest state is in a completed checkpoint
   * leaves memory for the spill directory, checked at each checkpoint of its partition; false: never.
   * @defaultValue 300000 (5 minutes)
   */
  idleMs?: number | false;
  /** The spill directory (cleared now). @defaultValue a fresh folder under os.tmpdir(), made on the first eviction */
  dir?: string;
  /** Wall clock, in ms. @defaultValue Date.now */
  clock?: () => number;
}

export const DEFAULT_IDLE_EVICT_MS = 5 * 60_000;

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
  readonly #idleMs: number | false;
  readonly #clock: () => number;
  readonly #spill: SpillDir | undefined;

  constructor(
    encode: (state: S) => Uint8Array,
    decode: (bytes: Uint8Array) => Untracked<S>,
    eviction: EvictionOptions = {},
  ) {
    this.#encode = encode;
    this.#decode = decode;
    this.#idleMs = eviction.idleMs ?? DEFAULT_IDLE_EVICT_MS;
    if (this.#idleMs !== false && !(Number.isFinite(this.#idleMs) && this.#idleMs > 0))
      throw new InvalidOptionError(
        `idle eviction needs a positive number of milliseconds, or false to keep every stream; got ${this.#idleMs}`,
      );
    this.#clock = eviction.clock ?? Date.now;
    this.#spill = this.#idleMs === false ? undefined : new SpillDir(eviction.dir);
  }

  /** Streams in memory. */
  get size(): number {
    return this.#streams.size;
  }

  /** Streams evicted to the spill directory. */
  get evicted(): number {
    return this.#spill?.size ?? 0;
  }

  /** The spill directory, once a stream was evicted. */
  get spillDir(): string | undefined {
    return this.#spill?.dir;
  }

  /**
   * The state of stream `key`, brought back from the spill directory when it was evicted. `partition`, the
   * input partition of the record at hand, says where to look: a stream's records all come from one.
   */
  get(key: string, partition: number): S | undefined {
    const state = this.#streams.get(key);
    if (state !== undefined || this.#spill === undefined || this.#spill.size === 0) return state;
    const spilled = this.#spill.take(partition, key);
    if (spilled === undefined) return undefined;
    const back = this.#track(this.#decode(spilled.bytes), partition, spilled.appliedUpTo);
    this.#streams.set(key, back);
    return back;
  }

  /** A new state for stream `key` of `partition` (replacing any), clean and with no record applied. */
  start(key: string, state: Untracked<S>, partition: number): S {
    const tracked = this.#track(state, partition, -1);
    this.#streams.set(key, tracked);
    return tracked;
  }

  onRevoked(partitions: readonly TopicPartition[]): void {
    dropRevoked(this.#streams, partitions);
    for (const { partition } of partitions) this.#spill?.clear(partition);
  }

  takeCheckpoint(partition: number): StreamSnapshot[] {
    // Before the snapshots: a stream clean now had its newest state in an earlier checkpoint, which the
    // consumer completed (snapshots and marker acknowledged) before it asked for this one.
    this.#evictIdle(partition);
    const out: StreamSnapshot[] = [];
    const now = this.#clock();
    for (const [key, state] of this.#streams) {
      if (state.partition !== partition || !state.dirty) continue;
      out.push({ key, bytes: this.#encode(state), offset: state.appliedUpTo });
      state.dirty = false;
      state.seenAt = now;
    }
    return out;
  }

  /**
   * The start of a spread checkpoint (src/pipeline/checkpointer.ts), which begins only once the previous one
   * of the partition is complete: idle clean streams leave memory here, as in `takeCheckpoint`.
   */
  changedStreams(partition: number): string[] {
    this.#evictIdle(partition);
    const keys: string[] = [];
    for (const [key, state] of this.#streams) if (state.partition === partition && state.dirty) keys.push(key);
    return keys;
  }

  snapshotStream(key: string): StreamSnapshot | undefined {
    const state = this.#streams.get(key);
    if (!state?.dirty) return undefined;
    const bytes = this.#encode(state);
    state.dirty = false;
    state.seenAt = this.#clock();
    return { key, bytes, offset: state.appliedUpTo };
  }

  restore(partition: number, snapshots: StreamSnapshot[]): void {
    dropRevoked(this.#streams, [{ partition }]);
    this.#spill?.clear(partition);
    for (const snap of snapshots)
      this.#streams.set(snap.key, this.#track(this.#decode(snap.bytes), partition, snap.offset));
  }

  #track(state: Untracked<S>, partition: number, appliedUpTo: number): S {
    return { ...state, partition, appliedUpTo, dirty: false, seenAt: this.#clock() } as S;
  }

  /** Clean streams of `partition` idle for `idleMs`, out of memory and into the spill directory. */
  #evictIdle(partition: number): void {
    const spill = this.#spill;
    if (spill === undefined || this.#idleMs === false) return;
    const before = this.#clock() - this.#idleMs;
    for (const [key, state] of this.#streams) {
      if (state.partition !== partition || state.dirty || state.seenAt > before) continue;
      spill.write(partition, key, state.appliedUpTo, this.#encode(state));
      this.#streams.delete(key);
    }
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
