import { ArtifactInvalidError } from '../errors.ts';

/**
 * libsvm's C-SVC prediction (svm_predict_values, svm_predict_probability of
 * libsvm 3's svm.cpp) in plain JavaScript, from the model text libsvm wrote,
 * checked beforehand by svm.ts.
 *
 * Why: libsvm-js scores one row per call through Emscripten (a copy of the
 * row, sparse index:value nodes, every support vector's kernel), which served
 * a linear SVM at 4,000 vectors/s against scikit-learn's 5,000 (issue 17).
 * Here a linear model's support vectors are collapsed at load into one weight
 * vector per class pair (w = Σ coef·sv, so a decision is one dot product
 * instead of a kernel per support vector), and an RBF model's support vectors
 * are one dense Float64Array.
 *
 * RBF decisions are libsvm's bit for bit up to `Math.exp` (the sums run in
 * libsvm's order: missing sparse entries are zeros and add nothing). Linear
 * decisions are the same sums regrouped, equal up to rounding (about 1e-15
 * relative): a class could only change where a pair's decision is within
 * rounding of 0, an exact tie. test/model/svm-scorer.test.ts checks both
 * against libsvm-js on real HAR windows.
 */
export class SvmScorer {
  readonly #classes: number;
  readonly #dims: number;
  readonly #kernel: 'linear' | 'rbf';
  readonly #gamma: number;
  /** Class index (into the model's classes) of libsvm's i-th label. */
  readonly #label: Int32Array;
  readonly #rho: Float64Array;
  readonly #probA: Float64Array | null;
  readonly #probB: Float64Array | null;
  /** linear: pairs × d weights; rbf: l × d support vectors. */
  readonly #matrix: Float64Array;
  /** rbf: (nr_class − 1) × l coefficients (libsvm's sv_coef). */
  readonly #coef: Float64Array;
  /** rbf: first support vector of each class. */
  readonly #start: Int32Array;
  readonly #count: Int32Array;
  readonly #l: number;

  constructor(text: string, dims: number) {
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    const sv = lines.indexOf('SV');
    const header = new Map<string, string[]>();
    for (const line of lines.slice(0, sv)) {
      const [key, ...values] = line.trim().split(' ');
      header.set(key, values);
    }
    const nums = (key: string) => (header.get(key) ?? []).map(Number);
    const kernel = header.get('kernel_type')?.[0];
    if (sv < 0 || (kernel !== 'linear' && kernel !== 'rbf'))
      throw new ArtifactInvalidError('svm: model text the scorer cannot read');
    const n = nums('nr_class')[0];
    const l = nums('total_sv')[0];
    this.#classes = n;
    this.#dims = dims;
    this.#kernel = kernel;
    this.#gamma = nums('gamma')[0] ?? 0;
    this.#label = Int32Array.from(nums('label'));
    this.#rho = Float64Array.from(nums('rho'));
    this.#probA = header.has('probA') ? Float64Array.from(nums('probA')) : null;
    this.#probB = header.has('probB') ? Float64Array.from(nums('probB')) : null;
    this.#count = Int32Array.from(nums('nr_sv'));
    this.#start = new Int32Array(n);
    for (let i = 1; i < n; i++) this.#start[i] = this.#start[i - 1] + this.#count[i - 1];
    this.#l = l;
    const coef = new Float64Array((n - 1) * l);
    const vectors = new Float64Array(l * dims);
    for (let k = 0; k < l; k++) {
      const parts = lines[sv + 1 + k].trim().split(' ');
      for (let c = 0; c < n - 1; c++) coef[c * l + k] = Number(parts[c]);
      for (let p = n - 1; p < parts.length; p++) {
        const colon = parts[p].indexOf(':');
        vectors[k * dims + Number(parts[p].slice(0, colon)) - 1] = Number(parts[p].slice(colon + 1));
      }
    }
    this.#coef = coef;
    this.#matrix = kernel === 'linear' ? this.#collapse(coef, vectors) : vectors;
  }

  /** Per class pair (i < j, libsvm's order): Σ_{k∈i} coef[j−1][k]·sv_k + Σ_{k∈j} coef[i][k]·sv_k. */
  #collapse(coef: Float64Array, vectors: Float64Array): Float64Array {
    const n = this.#classes;
    const d = this.#dims;
    const l = this.#l;
    const w = new Float64Array(((n * (n - 1)) / 2) * d);
    let p = 0;
    for (let i = 0; i < n; i++)
      for (let j = i + 1; j < n; j++, p++) {
        const base = p * d;
        const add = (first: number, count: number, c: Float64Array, offset: number) => {
          for (let k = first; k < first + count; k++) {
            const a = c[offset + k];
            for (let f = 0, s = k * d; f < d; f++) w[base + f] += a * vectors[s + f];
          }
        };
        add(this.#start[i], this.#count[i], coef, (j - 1) * l);
        add(this.#start[j], this.#count[j], coef, i * l);
      }
    return w;
  }

  /** libsvm's dec_values for the standardized row `x`, into `out` (one per class pair); rbf: from its kernels. */
  #decisionValues(x: Float64Array, out: Float64Array, kvalue: Float64Array): void {
    const n = this.#classes;
    const d = this.#dims;
    if (this.#kernel === 'linear') {
      const m = this.#matrix;
      const pairs = out.length;
      for (let p = 0; p < pairs; p++) {
        let s = 0;
        for (let f = 0, base = p * d; f < d; f++) s += m[base + f] * x[f];
        out[p] = s - this.#rho[p];
      }
      return;
    }
    const l = this.#l;
    const coef = this.#coef;
    let p = 0;
    for (let i = 0; i < n; i++)
      for (let j = i + 1; j < n; j++, p++) {
        let s = 0;
        const si = this.#start[i];
        const sj = this.#start[j];
        const c1 = (j - 1) * l;
        const c2 = i * l;
        for (let k = 0; k < this.#count[i]; k++) s += coef[c1 + si + k] * kvalue[si + k];
        for (let k = 0; k < this.#count[j]; k++) s += coef[c2 + sj + k] * kvalue[sj + k];
        out[p] = s - this.#rho[p];
      }
  }

  /**
   * RBF kernels of rows first … first+rows−1 of `x` (up to 4) with every support
   * vector, row b's into kvalue[b·l …]. Four rows share each support vector's
   * loads (bench:serving: docs/performance.md); each sum still runs over the
   * features in libsvm's order, so the values do not change.
   */
  #rbfKernels(x: Float64Array, first: number, rows: number, kvalue: Float64Array): void {
    const d = this.#dims;
    const l = this.#l;
    const m = this.#matrix;
    const g = -this.#gamma;
    if (rows === 4) {
      const b0 = first * d;
      const b1 = b0 + d;
      const b2 = b1 + d;
      const b3 = b2 + d;
      for (let k = 0; k < l; k++) {
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let f = 0, base = k * d; f < d; f++) {
          const v = m[base + f];
          const t0 = x[b0 + f] - v;
          const t1 = x[b1 + f] - v;
          const t2 = x[b2 + f] - v;
          const t3 = x[b3 + f] - v;
          s0 += t0 * t0;
          s1 += t1 * t1;
          s2 += t2 * t2;
          s3 += t3 * t3;
        }
        kvalue[k] = Math.exp(g * s0);
        kvalue[l + k] = Math.exp(g * s1);
        kvalue[2 * l + k] = Math.exp(g * s2);
        kvalue[3 * l + k] = Math.exp(g * s3);
      }
      return;
    }
    for (let b = 0; b < rows; b++)
      for (let k = 0, xb = (first + b) * d; k < l; k++) {
        let s = 0;
        for (let f = 0, base = k * d; f < d; f++) {
          const t = x[xb + f] - m[base + f];
          s += t * t;
        }
        kvalue[b * l + k] = Math.exp(g * s);
      }
  }

  /**
   * Class probabilities (the model's class order) for standardized rows, `d`
   * values each in `x`: libsvm's pairwise Platt estimates coupled by
   * multiclass_probability when the model has them, else one-hot on libsvm's
   * vote (ties to the lower libsvm label index).
   */
  predictProba(x: Float64Array, rows: number): number[][] {
    const n = this.#classes;
    const d = this.#dims;
    const dec = new Float64Array((n * (n - 1)) / 2);
    const rbf = this.#kernel === 'rbf';
    const l = this.#l;
    const kvalue = new Float64Array(rbf ? 4 * l : 0);
    const vote = new Int32Array(n);
    const estimates = new Float64Array(n);
    const out = new Array<number[]>(rows);
    for (let r = 0; r < rows; r++) {
      const b = r % 4;
      if (rbf && b === 0) this.#rbfKernels(x, r, Math.min(4, rows - r), kvalue);
      this.#decisionValues(x.subarray(r * d, (r + 1) * d), dec, kvalue.subarray(b * l, (b + 1) * l));
      const p = new Array<number>(n).fill(0);
      if (this.#probA && this.#probB) {
        this.#probability(dec, this.#probA, this.#probB, estimates);
        for (let i = 0; i < n; i++) p[this.#label[i]] = estimates[i];
      } else {
        vote.fill(0);
        let q = 0;
        for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++, q++) vote[dec[q] > 0 ? i : j]++;
        let best = 0;
        for (let i = 1; i < n; i++) if (vote[i] > vote[best]) best = i;
        p[this.#label[best]] = 1;
      }
      out[r] = p;
    }
    return out;
  }

  /** svm_predict_probability's estimates, libsvm label order, into `out`. */
  #probability(dec: Float64Array, probA: Float64Array, probB: Float64Array, out: Float64Array): void {
    const n = this.#classes;
    const minProb = 1e-7;
    const r = Array.from({ length: n }, () => new Float64Array(n));
    let k = 0;
    for (let i = 0; i < n; i++)
      for (let j = i + 1; j < n; j++, k++) {
        r[i][j] = Math.min(Math.max(sigmoidPredict(dec[k], probA[k], probB[k]), minProb), 1 - minProb);
        r[j][i] = 1 - r[i][j];
      }
    if (n === 2) {
      out[0] = r[0][1];
      out[1] = r[1][0];
    } else multiclassProbability(n, r, out);
  }
}

function sigmoidPredict(decision: number, a: number, b: number): number {
  const fApB = decision * a + b;
  // libsvm's form: 1 − p computed without cancellation.
  if (fApB >= 0) return Math.exp(-fApB) / (1.0 + Math.exp(-fApB));
  return 1.0 / (1 + Math.exp(fApB));
}

/** libsvm's multiclass_probability (Wu, Lin and Weng 2004, method 2), statement for statement. */
function multiclassProbability(k: number, r: Float64Array[], p: Float64Array): void {
  const maxIter = Math.max(100, k);
  const Q = Array.from({ length: k }, () => new Float64Array(k));
  const Qp = new Float64Array(k);
  const eps = 0.005 / k;
  for (let t = 0; t < k; t++) {
    p[t] = 1.0 / k;
    Q[t][t] = 0;
    for (let j = 0; j < t; j++) {
      Q[t][t] += r[j][t] * r[j][t];
      Q[t][j] = Q[j][t];
    }
    for (let j = t + 1; j < k; j++) {
      Q[t][t] += r[j][t] * r[j][t];
      Q[t][j] = -r[j][t] * r[t][j];
    }
  }
  for (let iter = 0; iter < maxIter; iter++) {
    let pQp = 0;
    for (let t = 0; t < k; t++) {
      Qp[t] = 0;
      for (let j = 0; j < k; j++) Qp[t] += Q[t][j] * p[j];
      pQp += p[t] * Qp[t];
    }
    let maxError = 0;
    for (let t = 0; t < k; t++) {
      const error = Math.abs(Qp[t] - pQp);
      if (error > maxError) maxError = error;
    }
    if (maxError < eps) break;
    for (let t = 0; t < k; t++) {
      const diff = (-Qp[t] + pQp) / Q[t][t];
      p[t] += diff;
      pQp = (pQp + diff * (diff * Q[t][t] + 2 * Qp[t])) / (1 + diff) / (1 + diff);
      for (let j = 0; j < k; j++) {
        Qp[j] = (Qp[j] + diff * Q[t][j]) / (1 + diff);
        p[j] /= 1 + diff;
      }
    }
  }
}
