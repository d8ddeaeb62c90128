/**
 * bench:knn — k-NN scoring: ml-knn's KD-tree (the package of record, how the
 * classifier scored before) against the classifier's flat scan, on the same
 * standardized rows. Real `har-v2-218` windows of UCI HAR's 21 training users
 * (about 7 100 rows) and up to 2 000 windows of the 9 test users when the full
 * recordings are in ../shared/data/har (or HAR_DIR); otherwise a seeded
 * 7 000 x 218 set of six Gaussian clusters. The KD-tree scores only the first
 * `--kdtree-queries` queries (default 300): at ~40/s it would take a minute
 * for all of them. Both must find neighbours at the same distances and cast
 * the same votes (an exact tie at the k-th place may go either way).
 *
 * Last line: one JSON object with the figures.
 * Run: npm run bench:knn [-- --k 5] [-- --kdtree-queries 300] [-- --synthetic]
 */
import KNN from 'ml-knn';
import { hasSharedHar, SHARED_HAR_DIR, sharedHarPaths } from '../src/data/hapt.ts';
import { KnnClassifier, Standardizer } from '../src/model/index.ts';
import { nearestRows } from '../src/model/knn.ts';
import type { Dataset } from '../src/model/types.ts';
import { mulberry32 } from '../src/random.ts';
import { harWindows } from './serving-data.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const k = arg('--k', 5);
const kdQueries = arg('--kdtree-queries', 300);
const maxQueries = 2000;
const dir = process.env.HAR_DIR ?? SHARED_HAR_DIR;
const real = !process.argv.includes('--synthetic') && hasSharedHar(dir);

function seeded(n: number, d: number, seed: number): Dataset {
  const random = mulberry32(seed);
  const classes = ['LAYING', 'SITTING', 'STANDING', 'WALKING', 'WALKING_DOWNSTAIRS', 'WALKING_UPSTAIRS'];
  const centres = classes.map(() => Float64Array.from({ length: d }, () => random() * 4));
  const rows: Float64Array[] = [];
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % classes.length;
    // Sum of uniforms: roughly Gaussian noise of sd 1 around the centre.
    rows.push(Float64Array.from(centres[c], (v) => v + (random() + random() + random() - 1.5) * 2));
    labels.push(classes[c]);
  }
  return { featureSet: `seeded-${d}`, featureNames: Array.from({ length: d }, (_, j) => `f${j}`), rows, labels };
}

const t0 = performance.now();
let train: Dataset;
let queries: Float64Array[];
if (real) {
  const paths = sharedHarPaths(dir);
  train = await harWindows(paths.train, Number.POSITIVE_INFINITY);
  queries = (await harWindows(paths.test, maxQueries)).rows;
} else {
  train = seeded(7000, 218, 1);
  queries = seeded(maxQueries, 218, 2).rows;
}
const d = train.featureNames.length;
console.log(
  `${real ? 'UCI HAR windows' : 'seeded rows'}: ${train.rows.length} training rows, ${queries.length} queries, ${d} dims, k = ${k} (prepared in ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
);

// The flat scan (standardization included), and the bounded search the classifier scores with (knn-index.ts).
const model = KnnClassifier.train(train, { k });
model.predictProbaScan(queries.slice(0, 50)); // warm-up: let the JIT compile the scan
let t = performance.now();
const scanProba = model.predictProbaScan(queries);
const scanSeconds = (performance.now() - t) / 1000;
const scanRate = queries.length / scanSeconds;
console.log(
  `flat scan: ${queries.length} queries in ${scanSeconds.toFixed(2)} s = ${scanRate.toFixed(0)} predictions/s`,
);
t = performance.now();
model.predictProba(queries.slice(0, 50)); // builds the index, warms the search
const buildSeconds0 = (performance.now() - t) / 1000;
t = performance.now();
const boundedProba = model.predictProba(queries);
const boundedRate = queries.length / ((performance.now() - t) / 1000);
const boundedSame = JSON.stringify(boundedProba) === JSON.stringify(scanProba);
console.log(
  `bounded search: index + 50 queries ${buildSeconds0.toFixed(2)} s; ${boundedRate.toFixed(0)} predictions/s; same votes as the scan: ${boundedSame}`,
);

// ml-knn's KD-tree on the same standardized rows, as the classifier used to score.
const classes = [...model.classes];
const labels = train.labels.map((l) => classes.indexOf(l));
const standardizer = Standardizer.fit(train.rows);
const standardized = standardizer.applyAll(train.rows);
t = performance.now();
const reference = new KNN(standardized, labels, { k });
const buildSeconds = (performance.now() - t) / 1000;
const kdCount = Math.min(kdQueries, queries.length);
const kdNearest: [number[], number][][] = [];
t = performance.now();
for (let i = 0; i < kdCount; i++) kdNearest.push(reference.kdTree.nearest(standardizer.apply(queries[i]), k));
const kdSeconds = (performance.now() - t) / 1000;
const kdRate = kdCount / kdSeconds;
console.log(
  `ml-knn KD-tree: built in ${buildSeconds.toFixed(2)} s; ${kdCount} queries in ${kdSeconds.toFixed(2)} s = ${kdRate.toFixed(0)} predictions/s`,
);

// Agreement on the KD-tree's queries: distances bit for bit, votes unless the k-th place is an exact tie.
const flat = new Float64Array(train.rows.length * d);
for (let i = 0; i < standardized.length; i++) flat.set(standardized[i], i * d);
const index = new Int32Array(k + 1);
const distance = new Float64Array(k + 1);
let sameDistances = 0;
let sameVotes = 0;
let ties = 0;
for (let i = 0; i < kdCount; i++) {
  const expected = kdNearest[i].map(([, dist]) => dist).sort((a, b) => a - b);
  nearestRows(flat, d, Float64Array.from(standardizer.apply(queries[i])), k + 1, index, distance);
  if (expected.every((v, j) => v === Math.sqrt(distance[j]))) sameDistances++;
  const votes = new Array<number>(classes.length).fill(0);
  for (const [point] of kdNearest[i]) votes[point[d]]++;
  const shares = votes.map((v) => v / k);
  if (shares.every((v, c) => v === scanProba[i][c])) sameVotes++;
  else if (distance[k - 1] === distance[k]) ties++;
}
const same = sameDistances === kdCount && sameVotes + ties === kdCount && boundedSame;
console.log(
  `agreement on ${kdCount} queries: distances ${sameDistances}, votes ${sameVotes}, differing only by a tie at the k-th place ${ties}`,
);
const speedup = scanRate / kdRate;
console.log(`speedup ${speedup.toFixed(1)}x`);
console.log(
  JSON.stringify({
    data: real ? 'uci-har' : 'seeded',
    rows: train.rows.length,
    dims: d,
    k,
    queries: queries.length,
    kdtree_queries: kdCount,
    kdtree_predictions_per_s: Math.round(kdRate),
    scan_predictions_per_s: Math.round(scanRate),
    bounded_predictions_per_s: Math.round(boundedRate),
    bounded_same_votes: boundedSame,
    speedup: Number(speedup.toFixed(1)),
    same_neighbours: same,
  }),
);
if (!same) process.exitCode = 1;
