import { determinant, Matrix, SingularValueDecomposition } from 'ml-matrix';
import { type Calibration, IDENTITY, rotationDegrees, type Vec3 } from './affine.ts';

/**
 * No accelerometer offset beyond this (g) is believed: phone accelerometers are specified to a few
 * hundredths of a g, and a fit that needs more (a rotation and an offset of 169° and 1.06 g from three
 * activities, bench:recovery bias:acc:0.2,0,0) explains posture differences, not a sensor.
 */
export const MAX_OFFSET_G = 0.5;

/** One activity's mean acceleration (g) in the reference frame and as the drifted phone reports it now. */
export interface CalibrationPair {
  activity: string;
  reference: Vec3;
  observed: Vec3;
  /** Windows behind the less certain of the two means. */
  weight: number;
}

export type CalibrationModel = 'identity' | 'rotation' | 'offset' | 'rotation+offset';

export interface CalibrationFit {
  model: CalibrationModel;
  calibration: Calibration;
  /** Weighted mean squared distance (g²) between the calibrated observed means and the reference means. */
  residual: number;
  /** The same for no calibration at all. */
  identityResidual: number;
  degrees: number;
  offsetNorm: number;
}

/**
 * Fits how a phone's acceleration frame moved, from per-activity mean
 * accelerations before and after (`observed = D · reference + d`), and returns
 * the calibration that undoes it (`R = Dᵀ`, `b = d`).
 *
 * Models, simplest first: a rotation (phone worn differently; keeps every
 * gravity vector's length), an offset (sensor bias), both (needs three
 * activities). The lowest residual wins; a model within `tieG2` (g², default
 * (0.1 g)²: the spread of an activity's mean gravity between windows) of a
 * simpler one loses to it. With one activity a rotation and an offset both fit
 * exactly: the rotation is kept (the smallest one that moves the reference
 * onto the observed mean), as phones are re-worn far more often than
 * accelerometers develop a bias. docs/calibration.md.
 */
export function fitCalibration(
  pairs: readonly CalibrationPair[],
  tieG2 = 0.01,
  maxOffsetG = MAX_OFFSET_G,
): CalibrationFit {
  const identityResidual = residual(pairs, IDENTITY);
  const fits: { model: CalibrationModel; calibration: Calibration }[] = [{ model: 'identity', calibration: IDENTITY }];
  if (pairs.length > 0) {
    fits.push({ model: 'rotation', calibration: kabsch(pairs, false) });
    fits.push({ model: 'offset', calibration: offsetOnly(pairs) });
    if (pairs.length >= 3) fits.push({ model: 'rotation+offset', calibration: kabsch(pairs, true) });
  }
  let best = { ...fits[0], residual: identityResidual };
  for (const f of fits.slice(1)) {
    if (Math.hypot(...f.calibration.offset) > maxOffsetG) continue;
    const r = residual(pairs, f.calibration);
    if (r < best.residual - tieG2) best = { ...f, residual: r };
  }
  return {
    ...best,
    identityResidual,
    degrees: rotationDegrees(best.calibration.rotation),
    offsetNorm: Math.hypot(...best.calibration.offset),
  };
}

/** Weighted mean of |R (observed − b) − reference|². */
export function residual(pairs: readonly CalibrationPair[], cal: Calibration): number {
  let sum = 0;
  let weight = 0;
  const r = cal.rotation;
  for (const p of pairs) {
    const o = [p.observed[0] - cal.offset[0], p.observed[1] - cal.offset[1], p.observed[2] - cal.offset[2]];
    for (let i = 0; i < 3; i++) {
      const d = r[i * 3] * o[0] + r[i * 3 + 1] * o[1] + r[i * 3 + 2] * o[2] - p.reference[i];
      sum += p.weight * d * d;
    }
    weight += p.weight;
  }
  return weight > 0 ? sum / weight : 0;
}

function centroid(pairs: readonly CalibrationPair[], pick: (p: CalibrationPair) => Vec3): Vec3 {
  const c: Vec3 = [0, 0, 0];
  let w = 0;
  for (const p of pairs) {
    const v = pick(p);
    for (let i = 0; i < 3; i++) c[i] += p.weight * v[i];
    w += p.weight;
  }
  return c.map((x) => x / w) as Vec3;
}

function offsetOnly(pairs: readonly CalibrationPair[]): Calibration {
  const o = centroid(pairs, (p) => p.observed);
  const r = centroid(pairs, (p) => p.reference);
  return { rotation: IDENTITY.rotation, offset: [o[0] - r[0], o[1] - r[1], o[2] - r[2]] };
}

/**
 * Weighted Kabsch: the rotation D minimizing Σ w |D ref − obs|² (about the centroids when `centered`),
 * from the SVD of H = Σ w ref obsᵀ; the calibration is R = Dᵀ = U diag(1, 1, s) Vᵀ, b = obs̄ − D ref̄.
 */
function kabsch(pairs: readonly CalibrationPair[], centered: boolean): Calibration {
  const rc = centered ? centroid(pairs, (p) => p.reference) : ([0, 0, 0] as Vec3);
  const oc = centered ? centroid(pairs, (p) => p.observed) : ([0, 0, 0] as Vec3);
  const h = Matrix.zeros(3, 3);
  for (const p of pairs)
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++)
        h.set(i, j, h.get(i, j) + p.weight * (p.reference[i] - rc[i]) * (p.observed[j] - oc[j]));
  const svd = new SingularValueDecomposition(h);
  // One direction (one activity, or all alike): the SVD leaves the turn about it arbitrary; take the smallest turn.
  if (!centered && svd.diagonal[1] < 1e-9 * svd.diagonal[0])
    return { rotation: smallestTurn(pairs), offset: [0, 0, 0] };
  const u = svd.leftSingularVectors;
  const v = svd.rightSingularVectors;
  const s = Math.sign(determinant(u.mmul(v.transpose()))) || 1;
  const rotation: number[] = [];
  // R = U diag(1, 1, s) Vᵀ maps observed directions back onto the reference ones.
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++)
      rotation.push(u.get(i, 0) * v.get(j, 0) + u.get(i, 1) * v.get(j, 1) + s * u.get(i, 2) * v.get(j, 2));
  if (!centered) return { rotation, offset: [0, 0, 0] };
  // b = obs̄ − D ref̄ with D = Rᵀ.
  const offset = [0, 1, 2].map(
    (i) => oc[i] - (rotation[i] * rc[0] + rotation[3 + i] * rc[1] + rotation[6 + i] * rc[2]),
  );
  return { rotation, offset };
}

/** The smallest rotation taking the observed mean direction onto the reference one (Rodrigues). */
function smallestTurn(pairs: readonly CalibrationPair[]): number[] {
  const unit = (v: Vec3) => v.map((x) => x / (Math.hypot(...v) || 1)) as Vec3;
  const a = unit(centroid(pairs, (p) => p.observed));
  const b = unit(centroid(pairs, (p) => p.reference));
  const v = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
  const c = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  if (c < -1 + 1e-9) return [...IDENTITY.rotation]; // opposite directions: no unique smallest turn
  const k = 1 / (1 + c);
  const x = [0, -v[2], v[1], v[2], 0, -v[0], -v[1], v[0], 0];
  const out: number[] = [];
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) {
      let x2 = 0;
      for (let m = 0; m < 3; m++) x2 += x[i * 3 + m] * x[m * 3 + j];
      out.push((i === j ? 1 : 0) + x[i * 3 + j] + k * x2);
    }
  return out;
}
