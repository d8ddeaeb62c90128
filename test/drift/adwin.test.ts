import { describe, expect, it } from 'vitest';
import { Adwin } from '../../src/drift/adwin.ts';
import { InvalidOptionError, InvalidValueError, SnapshotInvalidError } from '../../src/errors.ts';
import { type AdwinFixture, generate, harChannel, loadFixtures, StepHasher, streamOf } from './streams.ts';

const fixtures = loadFixtures();

function close(actual: number, expected: number): boolean {
  if (actual === expected) return true;
  return Math.abs(actual - expected) <= 1e-9 * Math.max(Math.abs(expected), 1e-300);
}

/**
 * Every fixture was written by river itself (scripts/river/make_fixtures.py).
 * The step hash covers width, total and variance at every step of every
 * stream, bit for bit. The stored checkpoints (width, estimation, variance)
 * are every step for streams of up to 20,000 values; for longer streams, to
 * keep the committed fixtures to a few MB, they are every 1,000th step plus
 * the steps around each detection. They say where a mismatch starts, and hold
 * estimation and variance to 1e-9 relative even if the hash were ever relaxed.
 */
describe('ADWIN against river golden fixtures', () => {
  it('has at least 30 fixture streams, some of a million values', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(30);
    expect(fixtures.filter((f) => f.length >= 1_000_000).length).toBeGreaterThanOrEqual(3);
    expect(fixtures.filter((f) => f.source.type === 'har').length).toBeGreaterThanOrEqual(4);
    for (const f of fixtures) if (f.length <= 20_000) expect(f.checkpoints.length, f.name).toBe(f.length);
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

  it.each([
    ['mean shifts', shift],
    [
      'Bernoulli error rise',
      generate({
        type: 'synthetic',
        seed: 7,
        scale: 1,
        segments: [
          { kind: 'bernoulli', n: 3000, p: 0.1 },
          { kind: 'bernoulli', n: 3000, p: 0.4 },
        ],
      }),
    ],
    ['a HAPT channel', harChannel({ type: 'har', file: 'hapt-raw-train.csv.gz', user: 1, exp: 2, column: 'acc_x' })],
  ] as [string, Float64Array][])('keeps the last `width` values at every step, cuts included (%s)', (_name, values) => {
    // Brute force: the window is always the newest `width` values, cuts drop only the oldest.
    const adwin = new Adwin({ clock: 4 });
    let cuts = 0;
    for (let i = 0; i < values.length; i++) {
      adwin.update(values[i]);
      if (adwin.driftDetected) cuts++;
      const w = adwin.width;
      expect(w).toBeGreaterThan(0);
      expect(w).toBeLessThanOrEqual(i + 1);
      let sum = 0;
      let scale = 0;
      for (let k = i - w + 1; k <= i; k++) {
        sum += values[k];
        scale += Math.abs(values[k]);
      }
      const mean = sum / w;
      let ss = 0;
      for (let k = i - w + 1; k <= i; k++) ss += (values[k] - mean) ** 2;
      if (Math.abs(adwin.estimation - mean) > 1e-9 * (1 + scale / w)) {
        expect.fail(`step ${i}: estimation ${adwin.estimation}, mean of the last ${w} values ${mean}`);
      }
      if (Math.abs(adwin.variance - ss) > 1e-7 * (1 + ss)) {
        expect.fail(`step ${i}: variance ${adwin.variance}, brute force ${ss}`);
      }
    }
    expect(cuts).toBeGreaterThanOrEqual(1);
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

  it('continues bit-identically from a snapshot taken on the very update that detected', () => {
    const straight = new Adwin();
    let at = -1;
    for (let i = 0; i < shift.length && at < 0; i++) if (straight.update(shift[i]).driftDetected) at = i;
    expect(at).toBeGreaterThan(0);
    const restored = Adwin.restore(straight.snapshot());
    expect(restored.driftDetected).toBe(true);
    expect(restored.nDetections).toBe(1);
    for (let i = at + 1; i < shift.length; i++) {
      straight.update(shift[i]);
      restored.update(shift[i]);
      expect(restored.driftDetected).toBe(straight.driftDetected);
      expect([restored.width, restored.total, restored.variance]).toEqual([
        straight.width,
        straight.total,
        straight.variance,
      ]);
    }
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
