import { describe, expect, it } from 'vitest';
import { AdwinStore } from '../../src/drift/adwin-store.ts';
import { writeSnapshot } from '../../src/drift/snapshot.ts';
import { crc32, crc32Table, encodeState } from '../../src/features/snapshot.ts';
import { mulberry32 } from '../../src/random.ts';

// The snapshot encoders' fast paths (node:zlib's crc32, whole-array copies on a little-endian host) must
// write the bytes of the portable ones: a checkpoint written by either restores on the other.
describe('snapshot encoders', () => {
  const random = mulberry32(5);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(random() * 256));

  it("node:zlib's crc32 and the table one agree", () => {
    for (const n of [0, 1, 7, 4096, 17_190]) {
      const b = bytes(n);
      expect(crc32(b)).toBe(crc32Table(b));
    }
    for (const n of [1, 31, 17_190]) {
      const b = bytes(n);
      expect(crc32(b.subarray(1))).toBe(crc32Table(b.subarray(1)));
    }
  });

  it('a featurizer snapshot copied whole is the one written value by value, NaNs included', () => {
    const floats = (n: number) =>
      Float64Array.from({ length: n }, () => (random() < 0.1 ? 0 / 0 : random() * 1e3 - 500));
    const state = {
      sampleRateHz: 50,
      gravityCutoffHz: 0.3,
      noiseCutoffHz: 20,
      samples: 12_345,
      filter: floats(48),
      ring: floats(15 * 128),
      times: floats(128).fill(Number.NaN, 0, 9),
      labels: Int8Array.from({ length: 128 }, () => Math.floor(random() * 14) - 2),
    };
    expect(Buffer.from(encodeState(state, true)).equals(Buffer.from(encodeState(state, false)))).toBe(true);
  });

  it('an ADWIN snapshot written straight from the store is the one written from the exported copies', () => {
    const store = new AdwinStore(6);
    for (let i = 0; i < 5000; i++) for (let d = 0; d < 6; d++) store.update(d, random() + (i > 2500 ? d : 0));
    const detectors = [0, 1, 2, 3, 4, 5];
    expect(
      Buffer.from(writeSnapshot(store, detectors, true)).equals(Buffer.from(writeSnapshot(store, detectors, false))),
    ).toBe(true);
  });
});
