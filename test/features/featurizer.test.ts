import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ACTIVITIES, loadRecordings, type Recording } from '../../src/data/hapt.ts';
import { InvalidOptionError, InvalidValueError } from '../../src/errors.ts';
import { FEATURE_NAMES, FEATURE_SET, type FeatureWindow, Featurizer, STEP, WINDOW } from '../../src/features/index.ts';
import { digest } from './helpers.ts';

let recording: Recording;
let windows: FeatureWindow[];

beforeAll(() => {
  // A real recording of the bundled sample: user 1's first session (exp 1).
  recording = loadRecordings('train', 'sample')[0];
  windows = new Featurizer().push(recording.samples, recording.labels);
});

const feature = (w: FeatureWindow, name: string) => {
  const k = FEATURE_NAMES.indexOf(name);
  if (k < 0) throw new Error(`no feature ${name}`);
  return w.features[k];
};
const meanOf = (label: string, name: string) => {
  const ws = windows.filter((w) => w.label === label);
  expect(ws.length).toBeGreaterThan(5);
  return ws.reduce((a, w) => a + feature(w, name), 0) / ws.length;
};

describe('featurizer on a HAPT recording', () => {
  it('cuts 128-sample windows with a 64-sample step over the whole recording', () => {
    expect(recording.user).toBe(1);
    const n = recording.labels.length;
    expect(windows).toHaveLength(Math.floor((n - WINDOW) / STEP) + 1);
    windows.forEach((w, i) => {
      expect(w.firstSample).toBe(i * STEP);
      expect(w.lastSample).toBe(i * STEP + WINDOW - 1);
      expect(w.startTime).toBeNull();
      expect(w.features).toHaveLength(FEATURE_NAMES.length);
      for (const v of w.features) expect(Number.isFinite(v)).toBe(true);
    });
    // The last window ends within one step of the end of the recording.
    expect(n - 1 - windows[windows.length - 1].lastSample).toBeLessThan(STEP);
  });

  it('names every feature once, and FEATURE_SET carries the count', () => {
    expect(new Set(FEATURE_NAMES).size).toBe(FEATURE_NAMES.length);
    expect(FEATURE_SET).toBe(`har-v3-${FEATURE_NAMES.length}`);
  });

  it('labels a window only when all its samples lie in one basic-activity segment', () => {
    for (const w of windows) {
      const labels = recording.labels.slice(w.firstSample, w.lastSample + 1);
      const uniform =
        labels.every((l) => l === labels[0]) && (ACTIVITIES as readonly (string | null)[]).includes(labels[0]);
      expect(w.label).toBe(uniform ? labels[0] : null);
    }
    const labelled = windows.filter((w) => w.label !== null);
    expect(labelled.length).toBeGreaterThan(windows.length / 3);
    expect(new Set(labelled.map((w) => w.label))).toEqual(new Set(ACTIVITIES));
  });

  it('labels by the rule on a synthetic stream: transitions, gaps and boundaries give null', () => {
    const n = 4 * WINDOW;
    const samples = new Float64Array(n * 6).map((_, i) => (i % 6 === 0 ? 1 : 0));
    const labels: (string | null)[] = Array.from({ length: n }, (_, i) =>
      i < 192 ? 'SITTING' : i < 200 ? 'SIT_TO_STAND' : i < 400 ? 'STANDING' : null,
    );
    labels[100] = null;
    const got = new Featurizer().push(samples, labels).map((w) => [w.firstSample, w.label]);
    expect(got).toEqual([
      [0, null], // sample 100 unlabelled
      [64, null], // reaches into the transition at 192
      [128, null], // transition
      [192, null], // transition at 192..199
      [256, 'STANDING'], // 256..383 all STANDING
      [320, null], // crosses 400 into unlabelled
      [384, null],
    ]);
  });

  it('gives bit-identical windows for any batching, timestamps included', () => {
    const n = recording.labels.length;
    const times = Float64Array.from({ length: n }, (_, i) => 1_700_000_000_000 + i * 20);
    const whole = new Featurizer().push(recording.samples, recording.labels, times);
    expect(whole[3].startTime).toBe(times[3 * STEP]);
    expect(whole[3].endTime).toBe(times[3 * STEP + WINDOW - 1]);
    const oneByOne = new Featurizer();
    const single: FeatureWindow[] = [];
    for (let s = 0; s < n; s++) {
      single.push(...oneByOne.push(recording.samples.subarray(s * 6, s * 6 + 6), [recording.labels[s]], [times[s]]));
    }
    const varied = new Featurizer();
    const chunks: FeatureWindow[] = [];
    for (let s = 0, size = 1; s < n; size = (size * 7 + 3) % 197) {
      const end = Math.min(n, s + size);
      chunks.push(
        ...varied.push(
          recording.samples.subarray(s * 6, end * 6),
          recording.labels.slice(s, end),
          times.subarray(s, end),
        ),
      );
      s = end;
    }
    expect(single).toHaveLength(windows.length);
    expect(digest(single)).toBe(digest(whole));
    expect(digest(chunks)).toBe(digest(whole));
    // The same features as without timestamps: they only travel with the window.
    expect(digest(whole.map((w) => ({ ...w, startTime: null, endTime: null })))).toBe(digest(windows));
  });

  it('is deterministic: a second featurizer and a separate process give the same bytes', () => {
    const r = loadRecordings('test', 'sample')[0];
    const here = digest(new Featurizer().push(r.samples, r.labels));
    expect(digest(new Featurizer().push(r.samples, r.labels))).toBe(here);
    const root = path.resolve(import.meta.dirname, '../..');
    const child = execFileSync(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'test/features/digest-child.ts')],
      { cwd: root, encoding: 'utf8' },
    );
    expect(child.trim()).toBe(here);
  }, 60_000);

  it('separates gravity: the phone upright reads gravity on x, lying down it does not', () => {
    // The phone rides on the waist, x axis up: standing reads about 1 g on x.
    expect(meanOf('STANDING', 'tGravityAcc-X-mean')).toBeGreaterThan(0.8);
    expect(Math.abs(meanOf('LAYING', 'tGravityAcc-X-mean'))).toBeLessThan(0.5);
    expect(meanOf('STANDING', 'angle(X,gravityMean)')).toBeLessThan(0.6);
    expect(meanOf('LAYING', 'angle(X,gravityMean)')).toBeGreaterThan(1);
    // Gravity's magnitude stays about 1 g whatever the posture.
    for (const a of ACTIVITIES) expect(Math.abs(meanOf(a, 'tGravityAccMag-mean') - 1)).toBeLessThan(0.1);
  });

  it('sees motion: walking moves the body far more than sitting, at walking frequencies', () => {
    expect(meanOf('WALKING', 'tBodyAccMag-logStd')).toBeGreaterThan(
      meanOf('SITTING', 'tBodyAccMag-logStd') + Math.log(5),
    );
    const dominant = meanOf('WALKING', 'fBodyAccMag-dominantFreq');
    // Steps come at about 2 per second; the magnitude's spectrum peaks at step rate (0.8-3 Hz).
    expect(dominant).toBeGreaterThan(0.8);
    expect(dominant).toBeLessThan(3);
  });

  it('refuses non-finite values and wrong shapes without moving', () => {
    const f = new Featurizer();
    f.push([0, 0, 1, 0, 0, 0]);
    expect(() => f.push([0, 0, 1, 0, 0, 0, 0, 0, Number.NaN, 0, 0, 0])).toThrow(InvalidValueError);
    expect(() => f.push([0, 0, 1, 0, 0, 0, 0, 0, Number.NaN, 0, 0, 0])).toThrow(
      'sample 2 (batch row 1) acc_z is NaN; only finite readings are accepted',
    );
    expect(() => f.push([0, 0, 1, 0, Number.POSITIVE_INFINITY, 0])).toThrow(/gyro_y is Infinity/);
    expect(() => f.push([0, 0, 1, 0, 0, 0], null, [Number.NaN])).toThrow(/timestamps must be finite/);
    expect(() => f.push([0, 0, 1, 0, 0])).toThrow(/rows of 6/);
    expect(() => f.push([0, 0, 1, 0, 0, 0], ['WALKING', 'WALKING'])).toThrow(/2 labels for 1 samples/);
    expect(f.samples).toBe(1);
  });

  it('validates its options', () => {
    expect(() => new Featurizer({ sampleRateHz: 0 })).toThrow(InvalidOptionError);
    expect(() => new Featurizer({ gravityCutoffHz: 30 })).toThrow(/below Nyquist/);
    expect(() => new Featurizer({ noiseCutoffHz: 25 })).toThrow(/noiseCutoffHz must be in \(0.3, 25\)/);
    expect(() => new Featurizer({ gravityCutoffHz: 5, noiseCutoffHz: 4 })).toThrow(/above gravityCutoffHz/);
    // 20 Hz is Nyquist at 40 Hz: a lower rate needs a lower noise cut-off.
    expect(() => new Featurizer({ sampleRateHz: 40 })).toThrow(InvalidOptionError);
    expect(new Featurizer({ sampleRateHz: 40, noiseCutoffHz: 16 }).samples).toBe(0);
  });

  it('conditions the input: a one-sample spike is gone, a tone above 20 Hz is damped', () => {
    const still = new Float64Array(600 * 6);
    for (let i = 0; i < 600; i++) still.set([0.98, 0.1, 0.05, 0.01, -0.02, 0.03], i * 6);
    const spiked = still.slice();
    spiked.set([3, -2, 1, 4, 4, -4], 300 * 6); // one glitched sample on every channel
    expect(digest(new Featurizer().push(spiked))).toBe(digest(new Featurizer().push(still)));

    const tone = (hz: number) => {
      const x = still.slice();
      for (let i = 0; i < 600; i++) x[i * 6 + 3] += 0.5 * Math.sin((2 * Math.PI * hz * i) / 50 + 0.3);
      const ws = new Featurizer().push(x);
      return Math.exp(feature(ws[ws.length - 1], 'tBodyGyro-X-logStd'));
    };
    // 3rd-order Butterworth at 20 Hz: |H(5 Hz)| ≈ 1, |H(24 Hz)| ≈ 0.07 (test/features/dsp.test.ts); the
    // median of 3 also clips a 5 Hz tone's peaks a little (10 samples a cycle).
    const amplitude = 0.5 / Math.SQRT2;
    expect(tone(5) / amplitude).toBeGreaterThan(0.9);
    expect(tone(24) / amplitude).toBeLessThan(0.12);
  });
});
