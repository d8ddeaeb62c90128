/** Stride of the points: time, x, y, z. */
const S = 4;

/**
 * Cubic Hermite between the two points around a grid instant `g`, with each point's slope that of the parabola
 * through it and its neighbours (a one-sided parabola at a segment's ends): second-order slopes on
 * an uneven spacing make the cubic third-order accurate, and its values and slopes continuous.
 * Why cubic: linear interpolation errs by h²|x''|/8, 1.8 % of a 3 Hz sine from 50 Hz points and
 * 2.6 % from 40 Hz (measured), and damps what is above a few Hz (it is a low-pass): the featurizer's jerk and
 * band energies would see it. The cubic costs ~30 flops per row and sensor (docs/features.md).
 *
 * Writes the 3 values at `g` between points `c` and `c + 1` of `p` (rows of time, x, y, z) into
 * `out[o..o+3)`; `before` / `after`: whether points `c − 1` / `c + 2` are in the same segment.
 */
export function hermite(
  p: Float64Array,
  g: number,
  c: number,
  before: boolean,
  after: boolean,
  out: Float64Array,
  o: number,
): void {
  const t1 = p[c * S];
  const t2 = p[(c + 1) * S];
  const h = t2 - t1;
  const u = (g - t1) / h;
  const u2 = u * u;
  const u3 = u2 * u;
  const h00 = 2 * u3 - 3 * u2 + 1;
  const h10 = (u3 - 2 * u2 + u) * h;
  const h01 = 3 * u2 - 2 * u3;
  const h11 = (u3 - u2) * h;
  const h0 = before ? t1 - p[(c - 1) * S] : 0;
  const h2 = after ? p[(c + 2) * S] - t2 : 0;
  for (let k = 1; k <= 3; k++) {
    const x1 = p[c * S + k];
    const x2 = p[(c + 1) * S + k];
    const d = (x2 - x1) / h;
    const d0 = before ? (x1 - p[(c - 1) * S + k]) / h0 : 0;
    const d2 = after ? (p[(c + 2) * S + k] - x2) / h2 : 0;
    let m1 = d;
    let m2 = d;
    if (before) m1 = (h * d0 + h0 * d) / (h0 + h);
    else if (after) m1 = ((2 * h + h2) * d - h * d2) / (h + h2);
    if (after) m2 = (h2 * d + h * d2) / (h + h2);
    else if (before) m2 = ((2 * h + h0) * d - h * d0) / (h + h0);
    out[o + k - 1] = h00 * x1 + h10 * m1 + h01 * x2 + h11 * m2;
  }
}
