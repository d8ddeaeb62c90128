import { describe, expect, it } from 'vitest';
import { applyInjection, parseInjection } from '../../producers/replay/inject.ts';

const rows = (list: number[][]) => Float64Array.from(list.flat());

describe('drift injection', () => {
  it('parses every CLI form and refuses bad ones with the accepted forms', () => {
    expect(parseInjection('rotation:x:60')).toEqual({ kind: 'rotation', axis: 'x', degrees: 60 });
    expect(parseInjection('bias:acc:0.2,0,-0.1')).toEqual({ kind: 'bias', sensor: 'acc', offset: [0.2, 0, -0.1] });
    expect(parseInjection('gain:gyro:1.3')).toEqual({ kind: 'gain', sensor: 'gyro', factor: 1.3 });
    expect(parseInjection('noise:acc:0.05')).toEqual({ kind: 'noise', sensor: 'acc', std: 0.05 });
    expect(parseInjection('sample-rate:40')).toEqual({ kind: 'sample-rate', rate: 40 });
    expect(parseInjection('lowpass:8')).toEqual({ kind: 'lowpass', hz: 8 });
    for (const bad of [
      'rotation:w:10',
      'bias:acc:1,2',
      'gain:mag:2',
      'noise:acc:x',
      'sample-rate:0',
      'lowpass:30',
      'tilt',
    ]) {
      expect(() => parseInjection(bad)).toThrow(/use rotation:x\|y\|z:DEGREES/);
    }
  });

  it('rotates acc and gyro together and keeps vector lengths', () => {
    const input = rows([[0, 0, 1, 0.5, 0, 0]]);
    const { samples } = applyInjection(input, [null], { kind: 'rotation', axis: 'x', degrees: 90 });
    expect(samples[1]).toBeCloseTo(-1, 12);
    expect(samples[2]).toBeCloseTo(0, 12);
    expect(samples[3]).toBeCloseTo(0.5, 12);
    const { samples: z } = applyInjection(input, [null], { kind: 'rotation', axis: 'z', degrees: 90 });
    expect(z[3]).toBeCloseTo(0, 12);
    expect(z[4]).toBeCloseTo(0.5, 12);
    expect(Math.hypot(z[0], z[1], z[2])).toBeCloseTo(1, 12);
  });

  it('adds bias and gain to one sensor only', () => {
    const input = rows([[1, 2, 3, 4, 5, 6]]);
    expect([...applyInjection(input, [null], { kind: 'bias', sensor: 'acc', offset: [1, 0, -1] }).samples]).toEqual([
      2, 2, 2, 4, 5, 6,
    ]);
    expect([...applyInjection(input, [null], { kind: 'gain', sensor: 'gyro', factor: 2 }).samples]).toEqual([
      1, 2, 3, 8, 10, 12,
    ]);
  });

  it('adds reproducible noise of the asked standard deviation', () => {
    const n = 20_000;
    const input = new Float64Array(n * 6);
    const a = applyInjection(input, new Array(n).fill(null), {
      kind: 'noise',
      sensor: 'gyro',
      std: 0.1,
      seed: 7,
    }).samples;
    const b = applyInjection(input, new Array(n).fill(null), {
      kind: 'noise',
      sensor: 'gyro',
      std: 0.1,
      seed: 7,
    }).samples;
    expect(a).toEqual(b);
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      sum += a[i * 6 + 3];
      sq += a[i * 6 + 3] ** 2;
      expect(a[i * 6]).toBe(0);
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.005);
    expect(Math.sqrt(sq / n)).toBeCloseTo(0.1, 2);
  });

  it('resamples to the true rate, with labels following', () => {
    const n = 101;
    const input = new Float64Array(n * 6);
    for (let i = 0; i < n; i++) input[i * 6] = i;
    const labels = Array.from({ length: n }, (_, i) => (i < 50 ? 'WALKING' : 'SITTING'));
    const { samples, labels: out } = applyInjection(input, labels, { kind: 'sample-rate', rate: 25 });
    expect(samples.length / 6).toBe(51);
    expect(samples[6]).toBe(2);
    expect(out[0]).toBe('WALKING');
    expect(out[50]).toBe('SITTING');
  });

  it('lowpass keeps slow movement and takes out what is above its cut-off, on all six channels', () => {
    // 1 Hz (walking cadence) plus 15 Hz (what an 8 Hz on-chip filter removes), 10 s at 50 Hz.
    const n = 500;
    const input = new Float64Array(n * 6);
    for (let i = 0; i < n; i++)
      for (let c = 0; c < 6; c++)
        input[i * 6 + c] = Math.sin((2 * Math.PI * i) / 50) + 0.5 * Math.sin((2 * Math.PI * 15 * i) / 50);
    const { samples } = applyInjection(input, new Array(n).fill(null), { kind: 'lowpass', hz: 8 });
    // Over the last 5 s: the 15 Hz part (the difference between neighbours, mostly) is almost gone.
    const wiggle = (x: Float64Array, c: number) => {
      let s = 0;
      for (let i = 251; i < n; i++) s += Math.abs(x[i * 6 + c] - x[(i - 1) * 6 + c]);
      return s / (n - 251);
    };
    for (let c = 0; c < 6; c++) {
      expect(wiggle(samples, c)).toBeLessThan(0.25 * wiggle(input, c));
      // The slow part comes through, only delayed: its range is kept.
      const tail = Array.from({ length: 250 }, (_, k) => samples[(250 + k) * 6 + c]);
      expect(Math.max(...tail) - Math.min(...tail)).toBeGreaterThan(1.8);
    }
  });
});
