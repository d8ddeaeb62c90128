import { describe, expect, it } from 'vitest';
import { Adwin } from '../../src/drift/adwin.ts';
import { DetectorBank } from '../../src/drift/bank.ts';
import { InvalidValueError, SnapshotInvalidError } from '../../src/errors.ts';
import { mulberry32 } from './streams.ts';

const FEATURES = ['a', 'b', 'c', 'd'];

function vectors(n: number, shiftAt: number, seed = 1): Float64Array[] {
  const random = mulberry32(seed);
  return Array.from({ length: n }, (_, i) =>
    Float64Array.from(FEATURES, (_f, k) => random() + (i >= shiftAt && k === 2 ? 1.5 : 0) + k),
  );
}

describe('detector bank', () => {
  it('behaves as one independent ADWIN per feature, and reports the cut', () => {
    const bank = new DetectorBank(FEATURES);
    const singles = FEATURES.map(() => new Adwin());
    const data = vectors(3000, 1500);
    const findings = [];
    for (let i = 0; i < data.length; i++) {
      const widths = singles.map((s) => s.width);
      const totals = singles.map((s) => s.total);
      for (let k = 0; k < FEATURES.length; k++) singles[k].update(data[i][k]);
      const found = bank.update(data[i], 1000 + i);
      for (let k = 0; k < FEATURES.length; k++) {
        expect(bank.width(k)).toBe(singles[k].width);
        expect(found.some((f) => f.index === k)).toBe(singles[k].driftDetected);
      }
      for (const f of found) {
        findings.push(f);
        const before = singles[f.index];
        // Before the cut the window held the previous width plus this value (unless the previous update reset it).
        if (widths[f.index] > 0 && !before.driftDetected) expect(f.widthBefore).toBe(widths[f.index] + 1);
        expect(f.meanBefore).toBeCloseTo(
          (totals[f.index] + data[i][f.index] - before.total) / (f.widthBefore - f.widthAfter),
          9,
        );
      }
    }
    const shifted = findings.filter((f) => f.feature === 'c');
    expect(shifted.length).toBeGreaterThanOrEqual(1);
    const first = shifted[0];
    expect(first.position).toBeGreaterThanOrEqual(1000 + 1500);
    expect(first.position).toBeLessThan(1000 + 1800);
    expect(first.meanAfter).toBeGreaterThan(first.meanBefore + 0.5);
    expect(first.widthAfter).toBeLessThan(first.widthBefore);
  });

  it('refuses a wrong-length or non-finite vector before any detector moves', () => {
    const bank = new DetectorBank(FEATURES);
    bank.update([1, 2, 3, 4], 0);
    const before = bank.snapshot();
    expect(() => bank.update([1, 2, 3], 1)).toThrow(/has 3 values, the bank expects 4/);
    expect(() => bank.update([1, 2, Number.NaN, 4], 1)).toThrow(InvalidValueError);
    expect(() => bank.update([1, 2, 3, Number.POSITIVE_INFINITY], 1)).toThrow(/feature "d" is Infinity/);
    expect(bank.snapshot()).toEqual(before);
  });

  it('restores from a snapshot and finds the same drifts as an uninterrupted bank', () => {
    const data = vectors(3000, 1200, 5);
    const straight = new DetectorBank(FEATURES);
    const a = new DetectorBank(FEATURES);
    for (let i = 0; i < 1000; i++) a.update(data[i], i);
    const b = DetectorBank.restore(a.snapshot(), FEATURES);
    expect(b.updates).toBe(1000);
    const got = [];
    const want = [];
    for (let i = 0; i < data.length; i++) {
      want.push(...straight.update(data[i], i));
      if (i >= 1000) got.push(...b.update(data[i], i));
    }
    expect(got).toEqual(want.filter((f) => f.position >= 1000));
    expect(() => DetectorBank.restore(a.snapshot(), ['a'])).toThrow(SnapshotInvalidError);
    expect(() => DetectorBank.restore(a.snapshot(), ['a', 'b', 'd', 'c'])).toThrow(/other feature names/);
  });

  it('rejects corrupted, truncated and single-detector snapshots', () => {
    const bank = new DetectorBank(FEATURES);
    for (const v of vectors(300, 1000)) bank.update(v, 0);
    const snap = bank.snapshot();
    expect(() => DetectorBank.restore(snap.subarray(0, snap.length - 5), FEATURES)).toThrow(/checksum/);
    const flipped = snap.slice();
    flipped[7] ^= 1;
    expect(() => DetectorBank.restore(flipped, FEATURES)).toThrow(SnapshotInvalidError);
    expect(() => Adwin.restore(snap)).toThrow(SnapshotInvalidError);
    expect(() => DetectorBank.restore(new Adwin().snapshot(), ['x'])).toThrow(/bad magic/);
  });

  it('hands back the position as given, bigint offsets included', () => {
    const bank = new DetectorBank(FEATURES);
    const data = vectors(3000, 1500, 3);
    const found = [];
    for (let i = 0; i < data.length; i++) found.push(...bank.update(data[i], 2n ** 60n + BigInt(i)));
    expect(found.length).toBeGreaterThanOrEqual(1);
    for (const f of found) {
      expect(typeof f.position).toBe('bigint');
      expect(f.position).toBeGreaterThanOrEqual(2n ** 60n + 1500n);
    }
  });

  it('allocates nothing when no drift is found', () => {
    const bank = new DetectorBank(FEATURES);
    const r1 = bank.update([1, 1, 1, 1], 0);
    const r2 = bank.update([1, 1, 1, 1], 1);
    expect(r1).toBe(r2);
    expect(r1).toHaveLength(0);
  });
});
