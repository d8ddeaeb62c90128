import { describe, expect, it } from 'vitest';
import { calibrateSamples, frameChange, IDENTITY } from '../../src/calibration/affine.ts';
import { Featurizer } from '../../src/features/index.ts';
import { mulberry32 } from '../../src/random.ts';

/** A phone-like stream: gravity along a slowly moving direction, a 2 Hz gait, gyro noise. */
function stream(n: number, seed: number): Float64Array {
  const rand = mulberry32(seed);
  const out = new Float64Array(n * 6);
  for (let i = 0; i < n; i++) {
    const t = i / 50;
    out[i * 6] = 0.95 + 0.2 * Math.sin(2 * Math.PI * 2 * t) + 0.02 * (rand() - 0.5);
    out[i * 6 + 1] = 0.2 * Math.cos(0.1 * t) + 0.05 * (rand() - 0.5);
    out[i * 6 + 2] = 0.1 + 0.1 * Math.sin(2 * Math.PI * 1 * t);
    for (let c = 3; c < 6; c++) out[i * 6 + c] = 0.3 * Math.sin(2 * Math.PI * (c - 1) * t) + 0.05 * (rand() - 0.5);
  }
  return out;
}

const rotZ = (deg: number) => {
  const t = (deg * Math.PI) / 180;
  return [Math.cos(t), -Math.sin(t), 0, Math.sin(t), Math.cos(t), 0, 0, 0, 1];
};

describe('Featurizer.changeFrame', () => {
  it('continues as if every sample had been pushed calibrated: same windows, no restart', () => {
    const raw = stream(1000, 7);
    const cal = { rotation: rotZ(40), offset: [0.1, -0.05, 0.2] };
    const calibrated = raw.slice();
    calibrateSamples(calibrated, cal);
    const reference = new Featurizer().push(calibrated);

    const at = 300; // mid-window: the change lands on a partly filled window
    const f = new Featurizer();
    const before = f.push(raw.subarray(0, at * 6));
    const change = frameChange(IDENTITY, cal);
    f.changeFrame(change.matrix, change.shift);
    const after = f.push(calibrated.subarray(at * 6));

    expect(before.length + after.length).toBe(reference.length);
    expect(after.length).toBeGreaterThan(5);
    for (const w of after) {
      const r = reference.find((x) => x.firstSample === w.firstSample)!;
      for (let i = 0; i < w.features.length; i++) expect(w.features[i]).toBeCloseTo(r.features[i], 6);
    }
    // The windows before the change are the raw ones: they differ from the calibrated stream's.
    const differs = before.some((w, k) => w.features.some((x, i) => Math.abs(x - reference[k].features[i]) > 1e-3));
    expect(differs).toBe(true);
  });

  it('composes: moving from one calibration to another equals calibrating with the second from the start', () => {
    const raw = stream(700, 11);
    const first = { rotation: rotZ(-30), offset: [0, 0.1, 0] };
    const second = { rotation: rotZ(55), offset: [0.05, 0, -0.1] };
    const all = raw.slice();
    calibrateSamples(all, second);
    const reference = new Featurizer().push(all);
    const f = new Featurizer();
    const head = raw.slice(0, 250 * 6);
    calibrateSamples(head, first);
    f.push(head);
    const change = frameChange(first, second);
    f.changeFrame(change.matrix, change.shift);
    const after = f.push(all.subarray(250 * 6));
    for (const w of after) {
      const r = reference.find((x) => x.firstSample === w.firstSample)!;
      for (let i = 0; i < w.features.length; i++) expect(w.features[i]).toBeCloseTo(r.features[i], 6);
    }
  });

  it('moves the median and noise-filter state too: glitches just before the change, any axis rotation', () => {
    const raw = stream(900, 5);
    // One-sample spikes in the median's history when the frame changes, and one right after.
    for (const [i, v] of [
      [297, 2.5],
      [299, -1.5],
      [301, 3],
    ]) {
      raw[i * 6] += v;
      raw[i * 6 + 4] -= v;
    }
    const u = 0.7;
    const v = -1.1;
    const ry = [Math.cos(v), 0, Math.sin(v), 0, 1, 0, -Math.sin(v), 0, Math.cos(v)];
    const rx = [1, 0, 0, 0, Math.cos(u), -Math.sin(u), 0, Math.sin(u), Math.cos(u)];
    const rotation = [0, 1, 2].flatMap((i) =>
      [0, 1, 2].map((j) => ry[i * 3] * rx[j] + ry[i * 3 + 1] * rx[3 + j] + ry[i * 3 + 2] * rx[6 + j]),
    );
    const cal = { rotation, offset: [-0.2, 0.15, 0.05] };
    const calibrated = raw.slice();
    calibrateSamples(calibrated, cal);
    const reference = new Featurizer().push(calibrated);
    for (const at of [298, 300, 301]) {
      const f = new Featurizer();
      f.push(raw.subarray(0, at * 6));
      const change = frameChange(IDENTITY, cal);
      f.changeFrame(change.matrix, change.shift);
      const after = f.push(calibrated.subarray(at * 6));
      expect(after.length).toBeGreaterThan(5);
      for (const w of after) {
        const r = reference.find((x) => x.firstSample === w.firstSample)!;
        for (let i = 0; i < w.features.length; i++) expect(w.features[i]).toBeCloseTo(r.features[i], 6);
      }
    }
  });
});
