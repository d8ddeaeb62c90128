/**
 * How good are the features? Featurizes the full HAPT train and test files
 * (../shared/data/har; the bundled sample is too small to say), keeps the
 * windows that lie inside one basic-activity segment, standardizes with the
 * training windows' mean and std, and scores classifiers on UCI HAR's subject
 * split (21 training users, 9 test users):
 * - k-NN (ml-knn, k = 5; slow: a KD-tree in 218 dimensions is a linear scan)
 * - logistic regression (ml-logistic-regression: one-vs-rest batch gradient descent)
 * - a linear SVM written here: L2-regularized squared-hinge loss, one-vs-rest,
 *   solved by dual coordinate descent (Hsieh et al., ICML 2008; liblinear's and
 *   scikit-learn LinearSVC's default solver), C = 0.01, a bias feature of 1.
 * Also reports the featurizer's throughput on the real recordings.
 * Nothing is cached or written.
 *
 * Run: npx tsx scripts/eval-features.ts [--skip-knn] [--skip-logreg]
 * (LR_STEPS, LR_RATE: the logistic regression's gradient steps and rate; defaults 400 and 2e-4)
 */
import { createRequire } from 'node:module';
import { ACTIVITIES, readRecordings, sharedHarPaths } from '../src/data/hapt.ts';
import { FEATURE_NAMES, FEATURE_SET, Featurizer } from '../src/features/index.ts';

interface Dataset {
  x: Float64Array[];
  y: number[];
  samples: number;
  featurizeMs: number;
}

async function featurize(file: string): Promise<Dataset> {
  const out: Dataset = { x: [], y: [], samples: 0, featurizeMs: 0 };
  for await (const r of readRecordings(file)) {
    const t0 = performance.now();
    const windows = new Featurizer().push(r.samples, r.labels);
    out.featurizeMs += performance.now() - t0;
    out.samples += r.labels.length;
    for (const w of windows) {
      if (w.label === null) continue;
      out.x.push(w.features);
      out.y.push(ACTIVITIES.indexOf(w.label));
    }
  }
  return out;
}

function standardizer(rows: Float64Array[]): (r: Float64Array) => number[] {
  const f = rows[0].length;
  const mean = new Float64Array(f);
  const sd = new Float64Array(f);
  for (const r of rows) for (let k = 0; k < f; k++) mean[k] += r[k] / rows.length;
  for (const r of rows) for (let k = 0; k < f; k++) sd[k] += (r[k] - mean[k]) ** 2 / rows.length;
  for (let k = 0; k < f; k++) sd[k] = sd[k] > 1e-24 ? Math.sqrt(sd[k]) : 1;
  return (r) => Array.from(r, (v, k) => (v - mean[k]) / sd[k]);
}

/** Deterministic permutation (mulberry32) so that the SVM's result is reproducible. */
function permutation(n: number, seed: number): Uint32Array {
  const p = Uint32Array.from({ length: n }, (_, i) => i);
  let s = seed >>> 0;
  for (let i = n - 1; i > 0; i--) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const j = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * (i + 1);
    const k = Math.floor(j);
    [p[i], p[k]] = [p[k], p[i]];
  }
  return p;
}

/** One-vs-rest linear SVM, dual coordinate descent for the squared hinge loss (no upper bound on alpha). */
function trainLinearSvm(x: number[][], y: number[], classes: number, c: number): Float64Array[] {
  const n = x.length;
  const f = x[0].length + 1;
  const rows = x.map((r) => Float64Array.from([...r, 1]));
  const diag = 1 / (2 * c);
  const qii = rows.map((r) => r.reduce((a, v) => a + v * v, 0) + diag);
  const models: Float64Array[] = [];
  for (let cls = 0; cls < classes; cls++) {
    const w = new Float64Array(f);
    const alpha = new Float64Array(n);
    for (let epoch = 0; epoch < 1000; epoch++) {
      let pgMax = Number.NEGATIVE_INFINITY;
      let pgMin = Number.POSITIVE_INFINITY;
      for (const i of permutation(n, epoch * 31 + cls)) {
        const r = rows[i];
        const yi = y[i] === cls ? 1 : -1;
        let dot = 0;
        for (let k = 0; k < f; k++) dot += w[k] * r[k];
        const g = yi * dot - 1 + diag * alpha[i];
        const pg = alpha[i] === 0 ? Math.min(g, 0) : g;
        pgMax = Math.max(pgMax, pg);
        pgMin = Math.min(pgMin, pg);
        if (pg === 0) continue;
        const old = alpha[i];
        alpha[i] = Math.max(old - g / qii[i], 0);
        const d = (alpha[i] - old) * yi;
        for (let k = 0; k < f; k++) w[k] += d * r[k];
      }
      if (pgMax - pgMin < 1e-3) break;
    }
    models.push(w);
  }
  return models;
}

function predictLinear(models: Float64Array[], r: number[]): number {
  let best = 0;
  let bestScore = Number.NEGATIVE_INFINITY;
  models.forEach((w, cls) => {
    let s = w[r.length];
    for (let k = 0; k < r.length; k++) s += w[k] * r[k];
    if (s > bestScore) {
      bestScore = s;
      best = cls;
    }
  });
  return best;
}

function report(name: string, truth: number[], predicted: number[], seconds: number, confusion = false): void {
  const correct = truth.filter((t, i) => t === predicted[i]).length;
  console.log(
    `${name}: ${((100 * correct) / truth.length).toFixed(2)} % (${correct}/${truth.length}), ${seconds.toFixed(1)} s`,
  );
  if (!confusion) return;
  const m = ACTIVITIES.map(() => ACTIVITIES.map(() => 0));
  for (const [i, t] of truth.entries()) m[t][predicted[i]]++;
  const w = 19;
  console.log(`  ${'true \\ predicted'.padEnd(w)}${ACTIVITIES.map((a) => a.slice(0, 10).padStart(11)).join('')}`);
  for (const [t, row] of m.entries()) {
    console.log(`  ${ACTIVITIES[t].padEnd(w)}${row.map((v) => String(v).padStart(11)).join('')}`);
  }
}

const require = createRequire(import.meta.url);
type KnnModel = { predict(rows: number[][]): number[] };
const KNN = require('ml-knn') as new (x: number[][], y: number[], o: { k: number }) => KnnModel;
type MatrixLike = object;
const { Matrix } = require('ml-matrix') as {
  Matrix: { new (rows: number[][]): MatrixLike; columnVector(v: number[]): MatrixLike };
};
const LogisticRegression = require('ml-logistic-regression') as new (o: {
  numSteps: number;
  learningRate: number;
}) => { train(x: MatrixLike, y: MatrixLike): void; predict(x: MatrixLike): number[] };

const LR_STEPS = Number(process.env.LR_STEPS ?? 400);
const LR_RATE = Number(process.env.LR_RATE ?? 2e-4);
const paths = sharedHarPaths();
const train = await featurize(paths.train);
const test = await featurize(paths.test);
const samples = train.samples + test.samples;
const ms = train.featurizeMs + test.featurizeMs;
console.log(`${FEATURE_SET}: ${FEATURE_NAMES.length} features`);
console.log(
  `featurizer: ${samples} samples in ${(ms / 1000).toFixed(2)} s = ${Math.round(samples / (ms / 1000))} samples/s (one thread)`,
);
const count = (y: number[]) => ACTIVITIES.map((a, i) => `${a} ${y.filter((v) => v === i).length}`).join(', ');
console.log(`train windows ${train.y.length} (${count(train.y)})`);
console.log(`test windows ${test.y.length} (${count(test.y)})`);

const scale = standardizer(train.x);
const xTrain = train.x.map(scale);
const xTest = test.x.map(scale);
const timed = <T>(fn: () => T): [T, number] => {
  const t0 = performance.now();
  const v = fn();
  return [v, (performance.now() - t0) / 1000];
};

for (const k of process.argv.includes('--skip-knn') ? [] : [5]) {
  const [p, s] = timed(() => new KNN(xTrain, train.y, { k }).predict(xTest));
  report(`k-NN (ml-knn, k=${k})`, test.y, p, s);
}
if (!process.argv.includes('--skip-logreg')) {
  // The library sums (not averages) the gradient over windows and fits no intercept: hence a constant column.
  const withBias = (rows: number[][]) => new Matrix(rows.map((r) => [...r, 1]));
  const [p, s] = timed(() => {
    const lr = new LogisticRegression({ numSteps: LR_STEPS, learningRate: LR_RATE });
    lr.train(withBias(xTrain), Matrix.columnVector(train.y));
    return lr.predict(withBias(xTest));
  });
  report(`logistic regression (ml-logistic-regression, ${LR_STEPS} steps, rate ${LR_RATE})`, test.y, p, s);
}
const [models, s] = timed(() => trainLinearSvm(xTrain, train.y, ACTIVITIES.length, 0.01));
report(
  'linear SVM (squared hinge, C=0.01, one-vs-rest)',
  test.y,
  xTest.map((r) => predictLinear(models, r)),
  s,
  true,
);
