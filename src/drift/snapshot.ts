import { SnapshotInvalidError } from '../errors.ts';
import { AdwinStore } from './adwin-store.ts';

/**
 * Binary snapshot of an AdwinStore, little-endian:
 *   magic "ADWN" | u8 version | f64 delta | u32 clock | u8 maxBuckets | u32 minWindowLength | u32 gracePeriod
 *   | u32 detectors, then per detector:
 *   f64 total, variance, width | i32 nRows, tick, nBuckets | u8 drift | f64 detections
 *   | per row: u8 count, count × (f64 total, f64 variance)
 *   | u32 FNV-1a hash of everything before it (catches truncation and flipped bytes).
 */
const MAGIC = 0x4e574441; // "ADWN" read as little-endian u32
const VERSION = 1;
/**
 * `direct`: each detector written straight from the store (`AdwinStore.writeState`); otherwise from
 * `exportState`'s copies, the reference the direct path is tested against.
 */
export function writeSnapshot(store: AdwinStore, detectors: number[], direct = true): Uint8Array {
  const states = direct ? [] : detectors.map((d) => store.exportState(d));
  let size = 4 + 1 + 8 + 4 + 1 + 4 + 4 + 4;
  if (direct) for (const d of detectors) size += store.stateBytes(d);
  for (const s of states) {
    size += 3 * 8 + 3 * 4 + 1 + 8;
    for (const count of s.counts) size += 1 + count * 16;
  }
  size += 4;
  const buf = new ArrayBuffer(size);
  const view = new DataView(buf);
  let o = 0;
  const o2 = store.options;
  view.setUint32(o, MAGIC, true);
  o += 4;
  view.setUint8(o++, VERSION);
  view.setFloat64(o, o2.delta, true);
  o += 8;
  view.setUint32(o, o2.clock, true);
  o += 4;
  view.setUint8(o++, o2.maxBuckets);
  view.setUint32(o, o2.minWindowLength, true);
  o += 4;
  view.setUint32(o, o2.gracePeriod, true);
  o += 4;
  view.setUint32(o, detectors.length, true);
  o += 4;
  if (direct) for (const d of detectors) o = store.writeState(d, view, o);
  for (const s of states) {
    for (let k = 0; k < 3; k++, o += 8) view.setFloat64(o, s.f[k], true);
    for (let k = 0; k < 3; k++, o += 4) view.setInt32(o, s.i[k], true);
    view.setUint8(o++, s.drift);
    view.setFloat64(o, s.detections, true);
    o += 8;
    s.counts.forEach((count, r) => {
      view.setUint8(o++, count);
      for (let k = 0; k < count * 2; k++, o += 8) view.setFloat64(o, s.rows[r][k], true);
    });
  }
  view.setUint32(o, checksum(new Uint8Array(buf, 0, o)), true);
  return new Uint8Array(buf);
}

export function checksum(bytes: Uint8Array): number {
  // FNV-1a: cheap, and catches truncation and flipped bytes.
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

export function readSnapshot(bytes: Uint8Array): AdwinStore {
  const fail = (why: string): never => {
    throw new SnapshotInvalidError(`ADWIN snapshot is invalid: ${why}`);
  };
  if (bytes.byteLength < 34) fail(`too short (${bytes.byteLength} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) fail('not an ADWIN snapshot (bad magic)');
  const version = view.getUint8(4);
  if (version !== VERSION) fail(`unknown version ${version} (this build reads version ${VERSION})`);
  const end = bytes.byteLength - 4;
  if (checksum(bytes.subarray(0, end)) !== view.getUint32(end, true))
    fail('checksum mismatch (truncated or corrupted)');
  let o = 5;
  const need = (n: number) => {
    if (o + n > end) fail('truncated');
  };
  const delta = view.getFloat64(o, true);
  o += 8;
  const clock = view.getUint32(o, true);
  o += 4;
  const maxBuckets = view.getUint8(o++);
  const minWindowLength = view.getUint32(o, true);
  o += 4;
  const gracePeriod = view.getUint32(o, true);
  o += 4;
  const count = view.getUint32(o, true);
  o += 4;
  let store: AdwinStore;
  try {
    store = new AdwinStore(count, { delta, clock, maxBuckets, minWindowLength, gracePeriod });
  } catch (err) {
    return fail(`bad parameters (${(err as Error).message})`);
  }
  for (let d = 0; d < count; d++) {
    need(3 * 8 + 3 * 4 + 1 + 8);
    const f = new Float64Array(3);
    const i = new Int32Array(3);
    for (let k = 0; k < 3; k++, o += 8) f[k] = view.getFloat64(o, true);
    for (let k = 0; k < 3; k++, o += 4) i[k] = view.getInt32(o, true);
    const drift = view.getUint8(o++);
    const detections = view.getFloat64(o, true);
    o += 8;
    const nRows = i[0];
    if (nRows < 1 || nRows > 64) fail(`bad row count ${nRows}`);
    const rows: Float64Array[] = [];
    const counts: number[] = [];
    for (let r = 0; r < nRows; r++) {
      need(1);
      const c = view.getUint8(o++);
      // A row never holds more than maxBuckets entries between updates (river's too: it merges at one more).
      if (c > maxBuckets) fail(`bad bucket count ${c}`);
      need(c * 16);
      const row = new Float64Array(c * 2);
      for (let k = 0; k < c * 2; k++, o += 8) row[k] = view.getFloat64(o, true);
      rows.push(row);
      counts.push(c);
    }
    store.importState(d, { f, i, drift, detections, rows, counts });
  }
  if (o !== end) fail('trailing bytes');
  return store;
}
