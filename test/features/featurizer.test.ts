import { beforeAll, describe, expect, it } from 'vitest';
import { ACTIVITIES, loadRecordings, type Recording } from '../../src/data/hapt.ts';
import { InvalidValueError, SnapshotInvalidError } from '../../src/errors.ts';
import { spectrum } from '../../src/features/dsp.ts';
import { FEATURE_NAMES, type FeatureWindow, Featurizer, STEP, WINDOW } from '../../src/features/index.ts';

let recording: Recording;
let windows: FeatureWindow[];

beforeAll(() => {
  // A real recording of the bundled sample: user 1's first session.
  recording = loadRecordings('train', 'sample')[0];
  windows = new Featurizer().push(recording.samples, recording.labels);
});

const feature = (w: FeatureWindow, name: string) => w.features[FEATURE_NAMES.indexOf(name)];

describe('featurizer on a HAPT recording', () => {
  it('cuts 128-sample windows with a 64-sample step', () => {
    const n = recording.samples.length / 6;
    expect(windows).toHaveLength(Math.floor((n - WINDOW) / STEP) + 1);
    windows.forEach((w, i) => {
      expect(w.firstSample).toBe(i * STEP);
      expect(w.lastSample).toBe(i * STEP + WINDOW - 1);
      expect(w.features).toHaveLength(FEATURE_NAMES.length);
      for (const v of w.features) expect(Number.isFinite(v)).toBe(true);
    });
  });

  it('names every feature once', () => {
    expect(new Set(FEATURE_NAMES).size).toBe(FEATURE_NAMES.length);
    expect(FEATURE_NAMES.length).toBeGreaterThan(100);
  });

  it('labels a window only when all its samples lie in one basic-activity segment', () => {
    for (const w of windows) {
      const labels = recording.labels.slice(w.firstSample, w.lastSample + 1);
      const uniform =
        labels.every((l) => l === labels[0]) && (ACTIVITIES as readonly (string | null)[]).includes(labels[0]);
      expect(w.label).toBe(uniform ? labels[0] : null);
    }
    expect(windows.filter((w) => w.label !== null).length).toBeGreaterThan(windows.length / 3);
  });

  it('gives bit-identical windows for any batching', () => {
    const f = new Featurizer();
    const got: FeatureWindow[] = [];
    const n = recording.samples.length / 6;
    let s = 0;
    let size = 1;
    while (s < n) {
      const end = Math.min(n, s + size);
      got.push(...f.push(recording.samples.subarray(s * 6, end * 6), recording.labels.slice(s, end)));
      s = end;
      size = (size * 7 + 3) % 97;
    }
    expect(got.length).toBe(windows.length);
    got.forEach((w, i) => {
      expect(Buffer.from(w.features.buffer).equals(Buffer.from(windows[i].features.buffer))).toBe(true);
      expect(w.label).toBe(windows[i].label);
    });
  });

  it('separates gravity: lying down turns gravity away from the x axis the phone has upright', () => {
    const mean = (label: string, name: string) => {
      const ws = windows.filter((w) => w.label === label);
      return ws.reduce((a, w) => a + feature(w, name), 0) / ws.length;
    };
    // Upright, the phone's x axis points along gravity (about 1 g); lying, it does not.
    expect(mean('STANDING', 'tGravityAcc-X-mean')).toBeGreaterThan(0.8);
    expect(Math.abs(mean('LAYING', 'tGravityAcc-X-mean'))).toBeLessThan(0.5);
    // Walking moves the body far more than sitting does.
    expect(mean('WALKING', 'tBodyAccMag-std')).toBeGreaterThan(5 * mean('SITTING', 'tBodyAccMag-std'));
  });

  it('continues bit-identically from a snapshot, and rejects a bad one', () => {
    const n = recording.samples.length / 6;
    const cut = 5000 + 37;
    const a = new Featurizer();
    const early = a.push(recording.samples.subarray(0, cut * 6), recording.labels.slice(0, cut));
    const b = Featurizer.restore(a.snapshot());
    const late = b.push(recording.samples.subarray(cut * 6), recording.labels.slice(cut, n));
    const all = [...early, ...late];
    expect(all.length).toBe(windows.length);
    all.forEach((w, i) => {
      expect(w.features).toEqual(windows[i].features);
    });
    expect(() => Featurizer.restore(a.snapshot().subarray(1))).toThrow(SnapshotInvalidError);
  });

  it('refuses non-finite values and wrong shapes without moving', () => {
    const f = new Featurizer();
    f.push([0, 0, 1, 0, 0, 0]);
    expect(() => f.push([0, 0, Number.NaN, 0, 0, 0])).toThrow(InvalidValueError);
    expect(() => f.push([0, 0, 1, 0, 0])).toThrow(/rows of 6/);
    expect(() => f.push([0, 0, 1, 0, 0, 0], ['WALKING', 'WALKING'])).toThrow(/2 labels for 1 samples/);
    expect(f.samples).toBe(1);
  });
});

describe('spectrum', () => {
  it('peaks at the bin of a pure sinusoid', () => {
    const signal = Float64Array.from({ length: WINDOW }, (_, i) => Math.sin((2 * Math.PI * 10 * i) / WINDOW));
    const mags = new Float64Array(WINDOW / 2 + 1);
    spectrum(signal, mags);
    expect(mags[10]).toBeCloseTo(0.5, 12);
    for (let k = 0; k < mags.length; k++) if (k !== 10) expect(mags[k]).toBeLessThan(1e-12);
  });
});
