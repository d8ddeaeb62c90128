import { describe, expect, it } from 'vitest';
import { Adwin } from '../../src/drift/adwin.ts';
import { InvalidOptionError, InvalidValueError, SnapshotInvalidError } from '../../src/errors.ts';
import { type AdwinFixture, generate, loadFixtures, StepHasher, streamOf } from './streams.ts';

const fixtures = loadFixtures();

function close(actual: number, expected: number): boolean {
  if (actual === expected) return true;
  return Math.abs(actual - expected) <= 1e-9 * Math.max(Math.abs(expected), 1e-300);
}

/**
 * Every fixture was written by river itself (scripts/river/make_fixtures.py).
 * The step hash covers width, total and variance at every step of every
 * stream; the checkpoints (every step of short streams, every 1,000th step and
 * the steps around each detection of long ones) say where a mismatch starts.
 */
describe('ADWIN against river golden fixtures', () => {
  it('has at least 30 fixture streams, some of a million values', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(30);
    expect(fixtures.filter((f) => f.length >= 1_000_000).length).toBeGreaterThanOrEqual(3);
    expect(fixtures.filter((f) => f.source.type === 'har').length).toBeGreaterThanOrEqual(4);
  });

  it.each(fixtures.map((f) => [f.name, f] as [string, AdwinFixture]))('%s', (_name, fixture) => {
    const values = streamOf(fixture);
    expect(values.length).toBe(fixture.length);
    const adwin = new Adwin(fixture.params);
    const detections: number[] = [];
    const hasher = new StepHasher();
    const checkpoints = new Map(fixture.checkpoints.map((c) => [c[0], c]));
    for (let i = 0; i < values.length; i++) {
      adwin.update(values[i]);
      if (adwin.driftDetected) detections.push(i);
      hasher.push(adwin.width, adwin.total, adwin.variance);
      const cp = checkpoints.get(i);
      if (cp) {
        if (adwin.width !== cp[1] || !close(adwin.estimation, cp[2]) || !close(adwin.variance, cp[3])) {
          expect.fail(
            `step ${i}: ours (${adwin.width}, ${adwin.estimation}, ${adwin.variance}) river (${cp[1]}, ${cp[2]}, ${cp[3]})`,
          );
        }
      }
    }
    expect(detections).toEqual(fixture.detections);
    expect(hasher.digest()).toBe(fixture.stepsSha256);
  });
});

describe('ADWIN contract', () => {
  const shift = generate({
    type: 'synthetic',
    seed: 99,
    scale: 1,
    segments: [
      { kind: 'normal', n: 2000, mean: 0, std: 1 },
      { kind: 'normal', n: 2000, mean: 2, std: 1 },
    ],
  });

  it('flags drift for exactly one update, and the window mean follows brute force', () => {
    const adwin = new Adwin();
    let flagged = 0;
    let since = 0;
    for (let i = 0; i < shift.length; i++) {
      const wasDrift = adwin.driftDetected;
      adwin.update(shift[i]);
      since = wasDrift ? 1 : since + 1;
      if (adwin.driftDetected) {
        flagged++;
        expect(adwin.width).toBeLessThan(since);
      } else {
        // Without a cut, the window is every value since the last reset.
        expect(adwin.width).toBe(since);
        let sum = 0;
        for (let k = i - since + 1; k <= i; k++) sum += shift[k];
        expect(adwin.estimation).toBeCloseTo(sum / since, 9);
      }
    }
    expect(flagged).toBe(adwin.nDetections);
    expect(flagged).toBeGreaterThanOrEqual(1);
  });

  it('refuses NaN and infinities and leaves the state untouched', () => {
    const adwin = new Adwin();
    for (let i = 0; i < 100; i++) adwin.update(i % 7);
    const before = adwin.snapshot();
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(() => adwin.update(bad)).toThrow(InvalidValueError);
    }
    expect(adwin.snapshot()).toEqual(before);
  });

  it('validates its options with a message that says what is allowed', () => {
    expect(() => new Adwin({ delta: 0 })).toThrow(InvalidOptionError);
    expect(() => new Adwin({ clock: 0 })).toThrow(/clock must be a positive integer/);
    expect(() => new Adwin({ maxBuckets: 1 })).toThrow(/maxBuckets/);
    expect(() => new Adwin({ gracePeriod: -1 })).toThrow(/gracePeriod/);
  });

  it('continues bit-identically after snapshot and restore', () => {
    const straight = new Adwin({ clock: 8 });
    const first = new Adwin({ clock: 8 });
    const half = shift.length / 2 + 13;
    for (let i = 0; i < half; i++) first.update(shift[i]);
    const snap = first.snapshot();
    const restored = Adwin.restore(snap);
    for (let i = 0; i < shift.length; i++) {
      straight.update(shift[i]);
      if (i < half) continue;
      restored.update(shift[i]);
      expect(restored.driftDetected).toBe(straight.driftDetected);
      expect(restored.width).toBe(straight.width);
      expect(restored.total).toBe(straight.total);
      expect(restored.variance).toBe(straight.variance);
    }
    expect(restored.nDetections).toBe(straight.nDetections);
  });

  it('rejects corrupted, truncated and foreign snapshots', () => {
    const adwin = new Adwin();
    for (let i = 0; i < 500; i++) adwin.update(shift[i]);
    const snap = adwin.snapshot();
    expect(() => Adwin.restore(snap.subarray(0, snap.length - 9))).toThrow(SnapshotInvalidError);
    const flipped = snap.slice();
    flipped[40] ^= 0xff;
    expect(() => Adwin.restore(flipped)).toThrow(/checksum/);
    expect(() => Adwin.restore(new TextEncoder().encode('{"not":"a snapshot"}.........................'))).toThrow(
      /magic/,
    );
    const future = snap.slice();
    future[4] = 9;
    expect(() => Adwin.restore(future)).toThrow(/unknown version 9/);
  });
});
