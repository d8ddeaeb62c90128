import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SnapshotInvalidError } from '../errors.ts';

/**
 * A local cache of evicted streams' snapshots, one file per stream under a folder per input partition
 * (docs/operations.md, "Idle streams"). The checkpoint topic stays the durable copy: the cache is cleared
 * when it is made, and a partition's folder when the partition is revoked or restored, so nothing in it
 * outlives the state it was spilled from.
 *
 * I/O is synchronous on purpose: a stream comes back inside the processing of its record, which is
 * synchronous, and a snapshot of some 30 KB is one page-cache write or read.
 *
 * File: u32 key length | key (UTF-8) | f64 the stream's last applied offset | the stream's snapshot.
 * The key is kept so that a name collision of the hashed file names could never restore another stream.
 */
export class SpillDir {
  readonly #given: string | undefined;
  #root: string | undefined;
  readonly #made = new Set<number>();
  /** Streams in the cache, per partition. */
  readonly #count = new Map<number, number>();
  #total = 0;

  /** `dir`: the cache's own folder (cleared now); none: a fresh temporary folder, made on the first spill. */
  constructor(dir?: string) {
    this.#given = dir;
    if (dir !== undefined) {
      rmSync(dir, { recursive: true, force: true });
      this.#root = dir;
    }
  }

  /** Streams in the cache. */
  get size(): number {
    return this.#total;
  }

  /** The cache's folder, once it exists. */
  get dir(): string | undefined {
    return this.#root;
  }

  write(partition: number, key: string, appliedUpTo: number, bytes: Uint8Array): void {
    const file = this.#file(partition, key, true);
    const name = Buffer.from(key);
    const head = Buffer.alloc(4 + name.length + 8);
    head.writeUInt32LE(name.length, 0);
    name.copy(head, 4);
    head.writeDoubleLE(appliedUpTo, 4 + name.length);
    // A stream is spilled only from memory, and its file is removed when it comes back: never two writes.
    writeFileSync(file, Buffer.concat([head, bytes]));
    this.#add(partition, 1);
  }

  /** The spilled snapshot of `key` (and removes it from the cache), or undefined when it is not there. */
  take(partition: number, key: string): { appliedUpTo: number; bytes: Uint8Array } | undefined {
    if (!this.#count.get(partition)) return undefined;
    const file = this.#file(partition, key, false);
    let b: Buffer;
    try {
      b = readFileSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const length = b.length >= 4 ? b.readUInt32LE(0) : -1;
    if (length < 0 || 4 + length + 8 > b.length)
      throw new SnapshotInvalidError(`spilled state of stream ${JSON.stringify(key)} is invalid: truncated (${file})`);
    if (b.toString('utf8', 4, 4 + length) !== key) return undefined;
    const appliedUpTo = b.readDoubleLE(4 + length);
    unlinkSync(file);
    this.#add(partition, -1);
    return { appliedUpTo, bytes: b.subarray(4 + length + 8) };
  }

  /** Forgets every stream of `partition` (revoked, or replaced by a restore from the checkpoint topic). */
  clear(partition: number): void {
    if (this.#root === undefined || !this.#made.has(partition)) return;
    rmSync(path.join(this.#root, `p${partition}`), { recursive: true, force: true });
    this.#made.delete(partition);
    this.#add(partition, -(this.#count.get(partition) ?? 0));
    this.#count.delete(partition);
  }

  #add(partition: number, n: number): void {
    this.#count.set(partition, (this.#count.get(partition) ?? 0) + n);
    this.#total += n;
  }

  #file(partition: number, key: string, create: boolean): string {
    if (this.#root === undefined) {
      this.#root = mkdtempSync(path.join(tmpdir(), 'activity-tracking-state-'));
      temporary.add(this.#root);
    }
    const folder = path.join(this.#root, `p${partition}`);
    if (create && !this.#made.has(partition)) {
      mkdirSync(folder, { recursive: true });
      this.#made.add(partition);
    }
    // Hashed: keys hold any characters a device id may (and NUL between device and activity).
    return path.join(folder, createHash('sha256').update(key).digest('hex'));
  }

  /** Removes the cache's folder (a temporary one, or the one given). */
  remove(): void {
    if (this.#root === undefined) return;
    rmSync(this.#root, { recursive: true, force: true });
    temporary.delete(this.#root);
    this.#made.clear();
    this.#count.clear();
    this.#total = 0;
    this.#root = this.#given;
  }
}

/** Temporary caches of this process, removed when it exits: they are worth nothing to the next one. */
const temporary = new Set<string>();
process.once('exit', () => {
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});
