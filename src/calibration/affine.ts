/**
 * A device calibration: how a phone's raw readings map back to the frame the
 * models were trained in. `canonical = R · (raw − b)` for the accelerometer and
 * `canonical = R · raw` for the gyroscope, with R a rotation (row-major 3 × 3)
 * and b an accelerometer offset in g. Pure arithmetic: no I/O.
 */
export interface Calibration {
  rotation: readonly number[];
  offset: readonly number[];
}

export type Vec3 = [number, number, number];

export const IDENTITY: Calibration = Object.freeze({
  rotation: Object.freeze([1, 0, 0, 0, 1, 0, 0, 0, 1]),
  offset: Object.freeze([0, 0, 0]),
});

/** An affine map of the accelerometer frame, `x' = M x + c` (gyro: `M x`), between two calibrations. */
export interface FrameChange {
  matrix: Float64Array;
  shift: Float64Array;
}

/** Applies `cal` in place to flat sample rows of 6 (acc x, y, z, gyro x, y, z). */
export function calibrateSamples(samples: Float64Array, cal: Calibration): void {
  const r = cal.rotation;
  const [bx, by, bz] = cal.offset;
  for (let i = 0; i < samples.length; i += 6) {
    const ax = samples[i] - bx;
    const ay = samples[i + 1] - by;
    const az = samples[i + 2] - bz;
    samples[i] = r[0] * ax + r[1] * ay + r[2] * az;
    samples[i + 1] = r[3] * ax + r[4] * ay + r[5] * az;
    samples[i + 2] = r[6] * ax + r[7] * ay + r[8] * az;
    const gx = samples[i + 3];
    const gy = samples[i + 4];
    const gz = samples[i + 5];
    samples[i + 3] = r[0] * gx + r[1] * gy + r[2] * gz;
    samples[i + 4] = r[3] * gx + r[4] * gy + r[5] * gz;
    samples[i + 5] = r[6] * gx + r[7] * gy + r[8] * gz;
  }
}

/** The raw acceleration that `cal` maps to `canonical`: `Rᵀ canonical + b`. */
export function toRaw(cal: Calibration, canonical: readonly number[]): Vec3 {
  const r = cal.rotation;
  const [x, y, z] = canonical;
  return [
    r[0] * x + r[3] * y + r[6] * z + cal.offset[0],
    r[1] * x + r[4] * y + r[7] * z + cal.offset[1],
    r[2] * x + r[5] * y + r[8] * z + cal.offset[2],
  ];
}

/**
 * The change of frame from readings calibrated with `from` to the same readings calibrated with `to`:
 * `to(raw) = M · from(raw) + c` with `M = R_to R_fromᵀ`, `c = R_to (b_from − b_to)`.
 */
export function frameChange(from: Calibration, to: Calibration): FrameChange {
  const a = to.rotation;
  const b = from.rotation;
  const matrix = new Float64Array(9);
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++)
      matrix[i * 3 + j] = a[i * 3] * b[j * 3] + a[i * 3 + 1] * b[j * 3 + 1] + a[i * 3 + 2] * b[j * 3 + 2];
  const d = [from.offset[0] - to.offset[0], from.offset[1] - to.offset[1], from.offset[2] - to.offset[2]];
  const shift = new Float64Array(3);
  for (let i = 0; i < 3; i++) shift[i] = a[i * 3] * d[0] + a[i * 3 + 1] * d[1] + a[i * 3 + 2] * d[2];
  return { matrix, shift };
}

/** The angle of a rotation, in degrees. */
export function rotationDegrees(rotation: readonly number[]): number {
  const cos = (rotation[0] + rotation[4] + rotation[8] - 1) / 2;
  return (Math.acos(Math.min(1, Math.max(-1, cos))) * 180) / Math.PI;
}

/** True when `cal` is a rotation (orthonormal, determinant 1, within 1e-6) with a finite offset. */
export function isValidCalibration(cal: Calibration): boolean {
  const r = cal.rotation;
  if (r.length !== 9 || cal.offset.length !== 3 || ![...r, ...cal.offset].every(Number.isFinite)) return false;
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) {
      const dot = r[i * 3] * r[j * 3] + r[i * 3 + 1] * r[j * 3 + 1] + r[i * 3 + 2] * r[j * 3 + 2];
      if (Math.abs(dot - (i === j ? 1 : 0)) > 1e-6) return false;
    }
  const det =
    r[0] * (r[4] * r[8] - r[5] * r[7]) - r[1] * (r[3] * r[8] - r[5] * r[6]) + r[2] * (r[3] * r[7] - r[4] * r[6]);
  return Math.abs(det - 1) < 1e-6;
}
