import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/** Rows below this are scanned plainly: the index would not pay for its set-up. */
const MIN_ROWS = 256;
/** Rotated coordinates summed between two bounds. */
const BLOCK = 8;
/** Rotated coordinates kept per row (principal axes, largest first); beyond them only the remainder's norm. */
const AXES = 96;
/** Rows the second moments are estimated on: any orthonormal rotation keeps distances; this only orders axes. */
const MOMENT_ROWS = 500;
/**
 * Slack on every bound. A rotated distance equals the true one up to rounding
 * (about 1e-13 relative for a matrix orthonormal to 1e-12, checked at build);
 * a remainder norm from ‖x‖² − Σ x_a² is bracketed by ±NORM_SLACK·‖x‖² before
 * its square root. A row is skipped only when a bound clears the k-th
 * distance by more than this, so no row that could get in is ever skipped.
 */
const SLACK = 1e-9;
const NORM_SLACK = 1e-9;

/**
 * Exact k-nearest-neighbour search over standardized rows, pruned by lower
 * bounds in a rotated space. HAR's 218 features are strongly correlated: on the
 * principal axes (eigenvectors of the rows' second moments, largest first) a
 * few coordinates carry most of every distance. For a row x and query q split
 * into their first j rotated coordinates and the rest,
 *
 *     ‖q − x‖² ≥ Σ_{a<j} (q_a − x_a)² + (‖q_rest‖ − ‖x_rest‖)²
 *
 * (the rotation keeps distances; the reverse triangle inequality bounds the
 * rest). Rows are visited in order of |q_0 − x_0| (sorted once by their first
 * rotated coordinate, walked out from the query's place on both sides), which
 * finds close rows early and ends the walk once (q_0 − x_0)² alone exceeds the
 * k-th best; each visited row is bounded at j = 8, 16, … 96 and left as soon
 * as a bound exceeds it (measured on HAR, 7,136 rows, k = 5: about 3,100 rows
 * visited per query, 36 reach the exact sum). Those get their distance summed in the original
 * coordinates in the plain scan's order (`nearestRows`, knn.ts), so
 * neighbours, distances (bit for bit) and the tie order (lower row index
 * first) are the plain scan's.
 */
export class KnnIndex {
  readonly #n: number;
  readonly #d: number;
  readonly #axes: number;
  readonly #rows: Float64Array;
  /** axes × d, row-major: rotated_a = Σ_j R[a][j] x_j. */
  readonly #rotation: Float64Array;
  /** n × axes rotated coordinates, rows in `#order`. */
  readonly #rotated: Float64Array;
  /** n × (axes / BLOCK): the remainder norm after each block, bracketed low and high. */
  readonly #restLow: Float64Array;
  readonly #restHigh: Float64Array;
  /** Row indices sorted by their first rotated coordinate; the arrays above are in this order. */
  readonly #order: Int32Array;
  /** The first rotated coordinate, in that order (the walk's keys). */
  readonly #keys: Float64Array;
  // Per-search scratch, reused: a search allocates nothing.
  readonly #q: Float64Array;
  readonly #qLow: Float64Array;
  readonly #qHigh: Float64Array;
  #count = 0;
  #worst = 0;
  #worstIndex = 0;

  private constructor(rows: Float64Array, d: number, rotation: Float64Array, axes: number) {
    const n = (rows.length / d) | 0;
    const blocks = axes / BLOCK;
    this.#n = n;
    this.#d = d;
    this.#axes = axes;
    this.#rows = rows;
    this.#rotation = rotation;
    this.#rotated = new Float64Array(n * axes);
    this.#restLow = new Float64Array(n * blocks);
    this.#restHigh = new Float64Array(n * blocks);
    const first = new Float64Array(n);
    const r = new Float64Array(axes);
    for (let i = 0; i < n; i++) first[i] = dot(rotation, rows, i * d, d);
    this.#order = Int32Array.from(first.keys()).sort((a, b) => first[a] - first[b] || a - b);
    this.#keys = new Float64Array(n);
    for (let p = 0; p < n; p++) {
      const i = this.#order[p];
      const x = rows.subarray(i * d, (i + 1) * d);
      rotate(rotation, axes, d, x, r);
      this.#rotated.set(r, p * axes);
      this.#keys[p] = r[0];
      rests(x, r, this.#restLow.subarray(p * blocks), this.#restHigh.subarray(p * blocks), blocks);
    }
    this.#q = new Float64Array(axes);
    this.#qLow = new Float64Array(blocks);
    this.#qHigh = new Float64Array(blocks);
  }

  /** The index of `rows` (n standardized rows of d values, row-major), or null when a plain scan is as good. */
  static build(rows: Float64Array, d: number): KnnIndex | null {
    const n = (rows.length / d) | 0;
    const axes = Math.min(AXES, Math.floor(d / BLOCK) * BLOCK);
    if (n < MIN_ROWS || axes < BLOCK) return null;
    const rotation = principalAxes(rows, n, d, axes);
    return rotation ? new KnnIndex(rows, d, rotation, axes) : null;
  }

  /** `nearestRows`' contract: the k nearest rows to `query`, ascending, ties to the lower index; returns the count. */
  search(query: Float64Array, k: number, index: Int32Array, distance: Float64Array): number {
    const n = this.#n;
    const axes = this.#axes;
    const keys = this.#keys;
    const q = this.#q;
    rotate(this.#rotation, axes, this.#d, query, q);
    rests(query, q, this.#qLow, this.#qHigh, axes / BLOCK);
    this.#count = 0;
    this.#worst = Number.POSITIVE_INFINITY;
    this.#worstIndex = 0x7fffffff;
    // Rows in order of their first rotated coordinate's distance to the query's, walking out from its
    // place on both sides; a side ends once that one coordinate alone clears the k-th distance.
    const q0 = q[0];
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid] < q0) lo = mid + 1;
      else hi = mid;
    }
    let down = lo - 1;
    let up = lo;
    for (;;) {
      const dd = down >= 0 ? q0 - keys[down] : Number.POSITIVE_INFINITY;
      const du = up < n ? keys[up] - q0 : Number.POSITIVE_INFINITY;
      const near = dd < du ? dd : du;
      if (near === Number.POSITIVE_INFINITY || near * near > this.#worst * (1 + SLACK)) break;
      this.#visit(dd < du ? down-- : up++, query, k, index, distance);
    }
    return this.#count;
  }

  /** The bounds of sorted row `p`, block by block; the exact distance if they all pass. */
  #visit(p: number, query: Float64Array, k: number, index: Int32Array, distance: Float64Array): void {
    const axes = this.#axes;
    const blocks = axes / BLOCK;
    const rotated = this.#rotated;
    const q = this.#q;
    const limit = this.#worst * (1 + SLACK);
    const base = p * axes;
    let partial = 0;
    for (let blk = 0; blk < blocks; blk++) {
      for (let a = blk * BLOCK, end = a + BLOCK; a < end; a++) {
        const t = q[a] - rotated[base + a];
        partial += t * t;
      }
      const r = p * blocks + blk;
      const gap = Math.max(this.#qLow[blk] - this.#restHigh[r], this.#restLow[r] - this.#qHigh[blk], 0);
      if (partial + gap * gap > limit) return;
    }
    this.#consider(this.#order[p], query, k, index, distance);
  }

  /** Exact distance in the original coordinates (the plain scan's sum), inserted if it gets in. */
  #consider(i: number, query: Float64Array, k: number, index: Int32Array, distance: Float64Array): void {
    const d = this.#d;
    const rows = this.#rows;
    const base = i * d;
    const worst = this.#worst;
    let s = 0;
    let j = 0;
    while (j < d && s <= worst) {
      const end = j + 16 < d ? j + 16 : d;
      for (; j < end; j++) {
        const t = query[j] - rows[base + j];
        s += t * t;
      }
    }
    if (this.#count === k && !(s < worst || (s === worst && i < this.#worstIndex))) return;
    let p = this.#count < k ? this.#count++ : k - 1;
    while (p > 0 && (distance[p - 1] > s || (distance[p - 1] === s && index[p - 1] > i))) {
      distance[p] = distance[p - 1];
      index[p] = index[p - 1];
      p--;
    }
    distance[p] = s;
    index[p] = i;
    if (this.#count === k) {
      this.#worst = distance[k - 1];
      this.#worstIndex = index[k - 1];
    }
  }
}

function dot(rotation: Float64Array, rows: Float64Array, base: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) s += rotation[j] * rows[base + j];
  return s;
}

function rotate(rotation: Float64Array, axes: number, d: number, x: Float64Array, out: Float64Array): void {
  for (let a = 0; a < axes; a++) {
    let s = 0;
    for (let j = 0, base = a * d; j < d; j++) s += rotation[base + j] * x[j];
    out[a] = s;
  }
}

/** The norm of x beyond each block of its rotated coordinates r, bracketed: √(‖x‖² − Σ r_a² ∓ slack). */
function rests(x: Float64Array, r: Float64Array, low: Float64Array, high: Float64Array, blocks: number): void {
  let norm = 0;
  for (let j = 0; j < x.length; j++) norm += x[j] * x[j];
  const slack = NORM_SLACK * norm;
  let inside = 0;
  for (let blk = 0; blk < blocks; blk++) {
    for (let a = blk * BLOCK; a < (blk + 1) * BLOCK; a++) inside += r[a] * r[a];
    const rest = norm - inside;
    low[blk] = Math.sqrt(Math.max(0, rest - slack));
    high[blk] = Math.sqrt(Math.max(0, rest + slack));
  }
}

/**
 * The `axes` leading eigenvectors of the rows' second-moment matrix, largest
 * eigenvalue first, as the rows of an axes × d matrix; null unless they are
 * orthonormal to 1e-12 (the bounds' slack assumes it), so a failed
 * decomposition falls back to the plain scan.
 */
function principalAxes(rows: Float64Array, n: number, d: number, axes: number): Float64Array | null {
  const step = Math.max(1, Math.floor(n / MOMENT_ROWS));
  const m = new Float64Array(d * d);
  for (let i = 0; i < n; i += step) {
    const base = i * d;
    for (let a = 0; a < d; a++) {
      const va = rows[base + a];
      for (let b = a, at = a * d + a; b < d; b++, at++) m[at] += va * rows[base + b];
    }
  }
  const moments = new Matrix(d, d);
  for (let a = 0; a < d; a++) for (let b = a; b < d; b++) moments.set(a, b, m[a * d + b]).set(b, a, m[a * d + b]);
  const evd = new EigenvalueDecomposition(moments, { assumeSymmetric: true });
  const values = evd.realEigenvalues;
  const vectors = evd.eigenvectorMatrix;
  const order = values.map((_, i) => i).sort((x, y) => values[y] - values[x]);
  const rotation = new Float64Array(axes * d);
  for (let a = 0; a < axes; a++) for (let j = 0; j < d; j++) rotation[a * d + j] = vectors.get(j, order[a]);
  for (let a = 0; a < axes; a++)
    for (let b = a; b < axes; b++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += rotation[a * d + j] * rotation[b * d + j];
      if (!(Math.abs(s - (a === b ? 1 : 0)) < 1e-12)) return null;
    }
  return rotation;
}
