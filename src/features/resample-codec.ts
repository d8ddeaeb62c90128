import { SnapshotInvalidError } from '../errors.ts';
import { crc32 } from './snapshot.ts';

/**
 * Byte layout of a resampler snapshot (little-endian):
 * magic u32 | version u8 | 3 zero bytes | values f64 × n | crc32 u32.
 *
 * The resampler's state has variable-length parts (the reorder buffer, the samples held while the
 * input rate is estimated, the points not yet interpolated), so the body is a flat sequence of
 * f64s, each variable part preceded by its length, read back in the order it was written. f64
 * carries every value (counts are safe integers) so restored state is bit-identical; the CRC turns
 * a flipped bit, which no range check could see, into a SnapshotInvalidError.
 */
const HEADER = 8;

export class F64Writer {
  #buf = new Float64Array(256);
  #n = 0;

  put(v: number): void {
    if (this.#n === this.#buf.length) {
      const grown = new Float64Array(this.#buf.length * 2);
      grown.set(this.#buf);
      this.#buf = grown;
    }
    this.#buf[this.#n++] = v;
  }

  /** `a[from .. to)`, preceded by its length. */
  putRange(a: ArrayLike<number>, from: number, to: number): void {
    this.put(to - from);
    for (let i = from; i < to; i++) this.put(a[i]);
  }

  finish(magic: number, version: number): Uint8Array {
    const bytes = new Uint8Array(HEADER + 8 * this.#n + 4);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, magic, true);
    view.setUint8(4, version);
    let o = HEADER;
    for (let i = 0; i < this.#n; i++, o += 8) view.setFloat64(o, this.#buf[i], true);
    view.setUint32(o, crc32(bytes.subarray(0, o)), true);
    return bytes;
  }
}

export class F64Reader {
  readonly #view: DataView;
  readonly #end: number;
  readonly #what: string;
  #o = HEADER;

  /** Checks magic, version, length and CRC; SnapshotInvalidError when any is off. */
  constructor(bytes: Uint8Array, magic: number, version: number, what: string) {
    this.#what = what;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.byteLength < HEADER + 4 || (bytes.byteLength - HEADER - 4) % 8 !== 0) {
      throw new SnapshotInvalidError(`${what} snapshot has ${bytes.byteLength} bytes, not a whole number of values`);
    }
    if (view.getUint32(0, true) !== magic) throw new SnapshotInvalidError(`not a ${what} snapshot (bad magic)`);
    const v = view.getUint8(4);
    if (v !== version) throw new SnapshotInvalidError(`${what} snapshot version ${v}, this code reads ${version}`);
    const body = bytes.byteLength - 4;
    if (view.getUint32(body, true) !== crc32(bytes.subarray(0, body))) {
      throw new SnapshotInvalidError(`${what} snapshot checksum mismatch (corrupt or truncated)`);
    }
    this.#view = view;
    this.#end = body;
  }

  get(): number {
    if (this.#o >= this.#end) throw new SnapshotInvalidError(`${this.#what} snapshot ends early`);
    const v = this.#view.getFloat64(this.#o, true);
    this.#o += 8;
    return v;
  }

  /** A finite value in [min, max]. */
  number(name: string, min: number, max: number): number {
    const v = this.get();
    if (!(v >= min && v <= max)) throw new SnapshotInvalidError(`${this.#what} snapshot: ${name} ${v} out of range`);
    return v;
  }

  /** An integer in [0, max]. */
  count(name: string, max: number): number {
    const v = this.get();
    if (!(Number.isSafeInteger(v) && v >= 0 && v <= max)) {
      throw new SnapshotInvalidError(`${this.#what} snapshot: ${name} ${v} is not a count in [0, ${max}]`);
    }
    return v;
  }

  flag(name: string): boolean {
    return this.count(name, 1) === 1;
  }

  /** A time (ms) or −∞ for "none yet". */
  time(name: string): number {
    const v = this.get();
    if (!(Number.isFinite(v) || v === Number.NEGATIVE_INFINITY)) {
      throw new SnapshotInvalidError(`${this.#what} snapshot: ${name} ${v} is not a time`);
    }
    return v;
  }

  /** Values written by `putRange`, as a new array (finite values only). */
  range(name: string, max: number): Float64Array {
    const n = this.count(`${name} length`, max);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = this.get();
      if (!Number.isFinite(v)) throw new SnapshotInvalidError(`${this.#what} snapshot: ${name}[${i}] is ${v}`);
      out[i] = v;
    }
    return out;
  }

  done(): void {
    if (this.#o !== this.#end) throw new SnapshotInvalidError(`${this.#what} snapshot has trailing values`);
  }
}
