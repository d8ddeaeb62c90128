/**
 * bench:train — every candidate on UCI HAR's subject split with the project's
 * own features: windows of the 21 training users train, windows of the 9 test
 * users score (six basic activities; windows inside one activity segment).
 * Reads the full recordings from ../shared/data/har (or HAR_DIR); without them
 * it says so and exits 1. Also checks that each model's artifact loads back
 * and predicts the same classes.
 *
 * Run: npm run bench:train [-- --only svm-rbf,logreg] [-- --forest]
 */
import { hasSharedHar, readRecordings, SHARED_HAR_DIR, sharedHarPaths } from '../src/data/hapt.ts';
import { FEATURE_NAMES, FEATURE_SET, Featurizer } from '../src/features/index.ts';
import {
  argmaxClasses,
  type CandidateSpec,
  DEFAULT_CANDIDATES,
  datasetDigest,
  loadModel,
  pickBest,
  serializeModel,
  trainCandidates,
} from '../src/model/index.ts';
import type { Dataset } from '../src/model/types.ts';

const dir = process.env.HAR_DIR ?? SHARED_HAR_DIR;
if (!hasSharedHar(dir)) {
  console.error(
    `bench:train needs the full HAPT recordings in ${dir} (hapt-raw-train.csv.gz, hapt-raw-test.csv.gz); set HAR_DIR`,
  );
  process.exit(1);
}

async function windows(file: string): Promise<Dataset> {
  const rows: Float64Array[] = [];
  const labels: string[] = [];
  for await (const r of readRecordings(file)) {
    for (const w of new Featurizer().push(r.samples, r.labels)) {
      if (w.label === null) continue;
      rows.push(w.features);
      labels.push(w.label);
    }
  }
  return { featureSet: FEATURE_SET, featureNames: FEATURE_NAMES, rows, labels };
}

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};
let specs: CandidateSpec[] = [...DEFAULT_CANDIDATES];
if (process.argv.includes('--forest'))
  specs.push({ name: 'forest', kind: 'random-forest', options: { trees: 10, maxFeatures: 0.1, maxDepth: 8 } });
const only = arg('--only')?.split(',');
if (only) specs = specs.filter((s) => only.includes(s.name));

const paths = sharedHarPaths(dir);
const t0 = performance.now();
const train = await windows(paths.train);
const test = await windows(paths.test);
console.log(
  `${FEATURE_SET}: ${FEATURE_NAMES.length} features; train ${train.rows.length} windows (21 users), test ${test.rows.length} windows (9 users); featurized in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);
console.log(`train ${datasetDigest(train)}`);
console.log(
  `${'candidate'.padEnd(12)} ${'params'.padEnd(52)} ${'accuracy'.padStart(8)} ${'macro-F1'.padStart(8)} ${'train s'.padStart(8)} ${'predict rows/s'.padStart(14)} ${'artifact'.padStart(9)}`,
);
const artifactBytes: Record<string, number> = {};
const results = trainCandidates(train, test, specs, {
  onResult: (r) => {
    const { bytes, digest } = serializeModel(r.classifier, train.featureNames);
    const loaded = loadModel(bytes, digest).classifier;
    const sample = test.rows.slice(0, 500);
    const same =
      JSON.stringify(argmaxClasses(loaded.classes, loaded.predictProba(sample))) ===
      JSON.stringify(argmaxClasses(r.classifier.classes, r.classifier.predictProba(sample)));
    if (!same) throw new Error(`${r.name}: the loaded artifact predicts differently`);
    artifactBytes[r.name] = bytes.length;
    const params = Object.entries(r.params)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    console.log(
      `${r.name.padEnd(12)} ${params.padEnd(52)} ${(100 * r.metrics.accuracy).toFixed(2).padStart(7)}% ${(100 * r.metrics.macroF1).toFixed(2).padStart(7)}% ${(r.trainMs / 1000).toFixed(2).padStart(8)} ${Math.round(
        test.rows.length / (r.predictMs / 1000),
      )
        .toString()
        .padStart(14)} ${`${(bytes.length / 1e6).toFixed(2)} MB`.padStart(9)}`,
    );
  },
});
const best = pickBest(results, 'accuracy');
const m = best.metrics;
console.log(`champion ${best.name}: per class (precision / recall)`);
for (const c of m.classes) {
  const p = m.perClass[c];
  console.log(
    `  ${c.padEnd(20)} ${(100 * p.precision).toFixed(1).padStart(5)} / ${(100 * p.recall).toFixed(1).padStart(5)}`,
  );
}
console.log(`  confusion (rows true, columns predicted, order ${m.classes.join(', ')})`);
for (const row of m.confusion) console.log(`  ${row.map((v) => String(v).padStart(5)).join('')}`);
const knn = results.filter((r) => r.kind === 'knn');
const round = (v: number, d = 4) => Number(v.toFixed(d));
console.log(
  JSON.stringify({
    champion: best.name,
    champion_accuracy: round(m.accuracy),
    champion_macro_f1: round(m.macroF1),
    knn_accuracy: knn.length ? round(Math.max(...knn.map((r) => r.metrics.accuracy))) : null,
    accuracy: Object.fromEntries(results.map((r) => [r.name, round(r.metrics.accuracy)])),
    train_seconds: Object.fromEntries(results.map((r) => [r.name, round(r.trainMs / 1000, 2)])),
    predict_rows_per_s: Object.fromEntries(
      results.map((r) => [r.name, Math.round(test.rows.length / (r.predictMs / 1000))]),
    ),
    artifact_bytes: artifactBytes,
    train_windows: train.rows.length,
    test_windows: test.rows.length,
  }),
);
