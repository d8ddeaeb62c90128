import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../src/calibration/affine.ts';
import { type CalibrationPair, fitCalibration } from '../../src/calibration/fit.ts';
import { mulberry32 } from '../../src/random.ts';

const turn = (axis: 'y' | 'z', deg: number) => {
  const t = (deg * Math.PI) / 180;
  const [c, s] = [Math.cos(t), Math.sin(t)];
  return axis === 'y' ? [c, 0, s, 0, 1, 0, -s, 0, c] : [c, -s, 0, s, c, 0, 0, 0, 1];
};
const apply = (m: number[], v: Vec3): Vec3 =>
  [0, 1, 2].map((i) => m[i * 3] * v[0] + m[i * 3 + 1] * v[1] + m[i * 3 + 2] * v[2]) as Vec3;

/** Mean gravity of a waist-worn phone: upright (walking, standing), pelvis tilted (sitting), lying. */
const POSTURES: [string, Vec3][] = [
  ['WALKING', [0.99, 0.08, 0.1]],
  ['SITTING', [0.82, 0.05, 0.55]],
  ['LAYING', [0.05, 0.15, 0.98]],
];

function pairs(drift: (v: Vec3) => Vec3, k: number, noise = 0): CalibrationPair[] {
  const rand = mulberry32(3);
  const jitter = (v: Vec3) => v.map((x) => x + noise * (rand() - 0.5)) as Vec3;
  return POSTURES.slice(0, k).map(([activity, reference]) => ({
    activity,
    reference,
    observed: jitter(drift(reference)),
    weight: 10,
  }));
}

describe('fitCalibration', () => {
  it('finds the rotation a phone was turned by, and the calibration undoes it', () => {
    const fit = fitCalibration(pairs((v) => apply(turn('y', 90), v), 3, 0.02));
    expect(fit.model).toBe('rotation');
    expect(fit.degrees).toBeCloseTo(90, 0);
    expect(fit.residual).toBeLessThan(1e-3);
    expect(fit.identityResidual).toBeGreaterThan(1);
  });

  it('with one activity, takes the smallest turn that explains it (the tilt)', () => {
    const fit = fitCalibration(pairs((v) => apply(turn('z', 45), v), 1));
    expect(fit.model).toBe('rotation');
    expect(fit.degrees).toBeCloseTo(45, 0);
  });

  it('tells a sensor bias from a rotation: gravity changed length', () => {
    const fit = fitCalibration(pairs((v) => [v[0] + 0.2, v[1], v[2]], 3, 0.01));
    expect(fit.model).toBe('offset');
    expect(fit.calibration.offset[0]).toBeCloseTo(0.2, 1);
    expect(fit.degrees).toBe(0);
  });

  it('fits nothing when nothing moved beyond the noise', () => {
    const fit = fitCalibration(pairs((v) => v, 3, 0.02));
    expect(fit.model).toBe('identity');
  });

  it('fits a rotation and an offset together from three activities', () => {
    const fit = fitCalibration(
      pairs((v) => {
        const r = apply(turn('y', 60), v);
        return [r[0] + 0.3, r[1] + 0.3, r[2]];
      }, 3),
    );
    expect(fit.model).toBe('rotation+offset');
    expect(fit.degrees).toBeCloseTo(60, 0);
    expect(fit.residual).toBeLessThan(1e-9);
  });
});
