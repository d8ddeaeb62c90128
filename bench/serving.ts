/**
 * bench:serving — our serving process (POST /score, src/serving/) side by side
 * with `mlflow models serve` (one worker, --env-manager local) serving the
 * equivalent scikit-learn pipelines (StandardScaler + the model), for every
 * kind the retraining gate can promote, trained on the same rows (real HAR
 * windows when ../shared/data/har is there, else seeded clusters). Per kind
 * and side: single-vector p50/p99 (sequential), req/s with 20 concurrent
 * clients, vectors/s in batches of 200; and our predictor consumer's
 * in-process predictions/s (decode, predict, encode, batches of 500). Both
 * servers run as child processes; the load comes from this one.
 *
 * Ports: MLflow 38500–38509, ours 38511–38520 (a second port each when the first is taken;
 * BENCH_PORT_BASE moves both).
 * Run: npm run bench:serving [-- --only knn-k5,svm-linear] [-- --no-mlflow] [-- --synthetic]
 * Last line: JSON (the k-NN keys of the earlier bench, plus `kinds`).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { PredictorProcessor } from '../consumers/predictor/processor.ts';
import { FEATURE_NAMES } from '../src/features/index.ts';
import { type CandidateSpec, KnnClassifier, serializeModel, trainCandidate } from '../src/model/index.ts';
import type { Dataset } from '../src/model/types.ts';
import { encodeEvent, FEATURE_VECTOR_BINARY_CONTENT_TYPE } from '../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../src/schemas/registry.ts';
import { ModelHandle } from '../src/serving/model-handle.ts';
import { directoryModelSource, writeModelDirectory } from '../src/serving/model-source.ts';
import type { ConsumedRecord } from '../src/transport/types.ts';
import { everyNth, loadBenchData, writeSet } from './serving-data.ts';
import { type Endpoint, type LoadFigures, type LoadOptions, measure } from './serving-load.ts';
import { mlflowVenv, type Served, serveMlflow, serveOurs, trainSklearn } from './serving-procs.ts';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const arg = (name: string) => (argv.indexOf(name) < 0 ? undefined : argv[argv.indexOf(name) + 1]);
const withMlflow = !flag('--no-mlflow');
const PORT_BASE = Number(process.env.BENCH_PORT_BASE ?? 38500);
const D = FEATURE_NAMES.length;
const BATCH = 200;
const load: LoadOptions = { sequential: 300, clients: 20, concurrentMs: 3000, batches: 10, batchSize: BATCH };

/**
 * Every kind the gate can promote (DEFAULT_CANDIDATES and the forest), with the
 * gate's settings. `small`: ml-logistic-regression (32 s for 400 steps on 1 000
 * rows) and ml-cart (3.5 s a tree) train on every 18th row, and logistic
 * regression for 100 steps; their serving cost does not depend on it (a
 * weight matrix; 20 trees of depth ≤ 8). Both sides get the same rows.
 */
const SPECS: (CandidateSpec & { set: 'full' | 'small' })[] = [
  { name: 'knn-k5', kind: 'knn', options: { k: 5 }, set: 'full' },
  { name: 'logreg', kind: 'logistic-regression', options: { steps: 100, rate: 1.5 }, set: 'small' },
  { name: 'svm-linear', kind: 'svm', options: { kernel: 'linear', cost: 0.01 }, set: 'full' },
  { name: 'svm-rbf', kind: 'svm', options: { kernel: 'rbf', cost: 10, gamma: 0.003 }, set: 'full' },
  {
    name: 'forest',
    kind: 'random-forest',
    options: { trees: 20, maxFeatures: 0.1, maxDepth: 8, seed: 1 },
    set: 'small',
  },
];
const only = arg('--only')?.split(',');
const specs = only ? SPECS.filter((s) => only.includes(s.name)) : SPECS;

const t0 = performance.now();
const data = await loadBenchData(1000, flag('--synthetic'));
const sets: Record<'full' | 'small', Dataset> = { full: data.train, small: everyNth(data.train, 18) };
console.log(
  `${data.source}: ${sets.full.rows.length} training rows (small set ${sets.small.rows.length}), ${data.queries.length} query vectors × ${D} (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
);

const work = await mkdtemp(path.join(tmpdir(), 'bench-serving-'));
const modelDir = path.join(work, 'ours');
const trainSeconds: Record<string, { ours: number; mlflow?: number }> = {};
for (const spec of specs) {
  const t = performance.now();
  const classifier = trainCandidate(sets[spec.set], spec);
  trainSeconds[spec.name] = { ours: (performance.now() - t) / 1000 };
  const { bytes, digest } = serializeModel(classifier, FEATURE_NAMES);
  await writeModelDirectory(modelDir, { name: spec.name, version: 1 }, bytes, digest);
}

let venv = '';
if (withMlflow) {
  venv = mlflowVenv();
  await mkdir(path.join(work, 'mlflow'), { recursive: true });
  for (const name of ['full', 'small'] as const) await writeSet(work, name, sets[name]);
  const spec = {
    d: D,
    sets: { full: { rows: sets.full.rows.length }, small: { rows: sets.small.rows.length } },
    models: specs.map((s) => ({ name: s.name, kind: s.kind, params: s.options, set: s.set })),
  };
  await writeFile(path.join(work, 'spec.json'), JSON.stringify(spec));
  for (const line of trainSklearn(venv, work)) trainSeconds[String(line.name)].mlflow = Number(line.train_s);
}
console.log(
  `trained (s): ${specs.map((s) => `${s.name} ${trainSeconds[s.name].ours.toFixed(1)}${withMlflow ? ` / sklearn ${trainSeconds[s.name].mlflow}` : ''}`).join(', ')}`,
);

const vectors = data.queries.map((q) => Array.from(q));
const batches = Array.from({ length: 5 }, (_, b) =>
  Array.from({ length: BATCH }, (_, i) => vectors[(b * BATCH + i) % vectors.length]),
);
const count = (body: unknown) => (body as { predictions?: unknown[] }).predictions?.length;
const ours = (url: string): Endpoint => ({
  url: `${url}/score`,
  single: vectors.map((v) => JSON.stringify({ vector: v })),
  batch: batches.map((b) => JSON.stringify({ vectors: b })),
  check: (body, n) => {
    if (count(body) !== n) throw new Error(`/score gave ${count(body)} predictions for ${n} vectors`);
  },
});
const mlflow = (url: string): Endpoint => ({
  url: `${url}/invocations`,
  single: vectors.map((v) => JSON.stringify({ inputs: [v] })),
  batch: batches.map((b) => JSON.stringify({ inputs: b })),
  check: (body, n) => {
    if (count(body) !== n) throw new Error(`/invocations gave ${count(body)} predictions for ${n} vectors`);
  },
});

/** Labels both sides give the first batch: the pipelines are equivalent, not identical (docs/performance.md). */
async function labelsOf(e: Endpoint, classes: readonly string[]): Promise<string[]> {
  const r = await fetch(e.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: e.batch[0] });
  const predictions = ((await r.json()) as { predictions: unknown[] }).predictions;
  return predictions.map((p) => {
    if (typeof p === 'string') return p;
    if (Array.isArray(p)) return classes[p.indexOf(Math.max(...(p as number[])))];
    return (p as { activity: string }).activity;
  });
}

/**
 * Starts on the first port of `ports` that works: the range sits inside Linux's ephemeral ports, so a
 * client socket of another process can hold one for a while (seen: MLflow's bind failed on 38504).
 */
async function withServer<T>(
  ports: number[],
  start: (port: number) => Promise<Served>,
  run: (s: Served) => Promise<T>,
): Promise<T> {
  let s: Served | undefined;
  for (const [n, port] of ports.entries()) {
    try {
      s = await start(port);
      break;
    } catch (err) {
      if (n === ports.length - 1) throw err;
      console.log(`port ${port} failed, trying ${ports[n + 1]}: ${String(err).split('\n')[0]}`);
    }
  }
  if (!s) throw new Error('no port to serve on');
  try {
    return await run(s);
  } finally {
    await s.stop();
  }
}

const figures: Record<string, { ours: LoadFigures; mlflow?: LoadFigures; agreement?: number }> = {};
const classes = [...new Set(sets.full.labels)].sort();
for (const [i, spec] of specs.entries()) {
  const o = await withServer(
    [PORT_BASE + 11 + i, PORT_BASE + 16 + i],
    (port) => serveOurs(modelDir, spec.name, 1, port),
    async (s) => ({ load: await measure(ours(s.url), load), labels: await labelsOf(ours(s.url), classes) }),
  );
  figures[spec.name] = { ours: o.load };
  if (withMlflow) {
    const m = await withServer(
      [PORT_BASE + i, PORT_BASE + 5 + i],
      (port) => serveMlflow(venv, path.join(work, 'mlflow', spec.name), port),
      async (s) => ({ load: await measure(mlflow(s.url), load), labels: await labelsOf(mlflow(s.url), classes) }),
    );
    figures[spec.name].mlflow = m.load;
    figures[spec.name].agreement = o.labels.filter((l, j) => l === m.labels[j]).length / o.labels.length;
  }
  console.log(`${spec.name}: ${JSON.stringify(figures[spec.name])}`);
}

// The predictor in-process: decode → one predictProba per batch of 500 → encode. Vectors in the
// featurizer's default encoding (binary float64 bodies, not JSON).
const records: ConsumedRecord[] = Array.from({ length: 500 }, (_, i) => {
  const { headers, value } = encodeEvent({
    type: EVENT_TYPES.featureVector,
    contentType: FEATURE_VECTOR_BINARY_CONTENT_TYPE,
    source: 'bench',
    id: `b-${i}`,
    data: {
      device: `phone-${i % 8}`,
      featureSet: sets.full.featureSet,
      values: vectors[i % vectors.length] as [number, ...number[]],
      window: { start: i * 1280, end: i * 1280 + 2540, firstSample: i * 64, lastSample: i * 64 + 127 },
      source: { topic: 'r', partition: 0, firstOffset: i, lastOffset: i },
      label: classes[i % classes.length],
    },
  });
  return { topic: 'features', partition: 0, offset: i, key: `phone-${i % 8}`, headers, value, timestamp: Date.now() };
});
const batchOf = { topic: 'features', partition: 0, records, highWatermark: 500 } as never;
const handle = new ModelHandle(directoryModelSource(modelDir));
const predictor = new PredictorProcessor({ handle });
const predictorPerS: Record<string, number> = {};
/** Batches of 500 for at least a second (and at least 2), after one warm-up batch. */
function predictorRate(): number {
  predictor.process(batchOf);
  let rounds = 0;
  const start = performance.now();
  while (rounds < 2 || performance.now() - start < 1000) {
    predictor.process(batchOf);
    rounds++;
  }
  return (rounds * 500) / ((performance.now() - start) / 1000);
}
for (const spec of specs) {
  await handle.switchTo({ name: spec.name, version: 1 });
  predictorPerS[spec.name] = predictorRate();
}

// The same predictor with a 12-row k-NN: the pipeline's own cost (decode, encode, ADWIN) without the search.
// Two rows of each class: the first twelve windows of a recording are often of one class only.
const tinyRows = classes.flatMap((c) => sets.full.labels.flatMap((l, i) => (l === c ? [i] : [])).slice(0, 2));
const tiny = KnnClassifier.train({
  ...sets.full,
  rows: tinyRows.map((i) => sets.full.rows[i]),
  labels: tinyRows.map((i) => sets.full.labels[i]),
});
const tinyArt = serializeModel(tiny, FEATURE_NAMES);
await writeModelDirectory(modelDir, { name: 'tiny', version: 1 }, tinyArt.bytes, tinyArt.digest);
await handle.switchTo({ name: 'tiny', version: 1 });
const overheadPerS = predictorRate();
await rm(work, { recursive: true, force: true });

const n0 = (v: number | undefined) => (v === undefined ? '—' : Math.round(v).toLocaleString('en-US'));
const ms = (v: number | undefined) => (v === undefined ? '—' : v.toFixed(2));
const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
console.log(
  row([
    'model',
    'side',
    'p50 ms',
    'p99 ms',
    `req/s (${load.clients} clients)`,
    `vectors/s (batch ${BATCH})`,
    'predictor /s',
  ]),
);
console.log(row(['---', '---', '---:', '---:', '---:', '---:', '---:']));
for (const spec of specs) {
  const f = figures[spec.name];
  console.log(
    row([
      spec.name,
      'ours',
      ms(f.ours.p50Ms),
      ms(f.ours.p99Ms),
      n0(f.ours.concurrentReqPerS),
      n0(f.ours.batchVectorsPerS),
      n0(predictorPerS[spec.name]),
    ]),
  );
  if (f.mlflow)
    console.log(
      row([
        '',
        `MLflow (agree ${((f.agreement ?? 0) * 100).toFixed(1)} %)`,
        ms(f.mlflow.p50Ms),
        ms(f.mlflow.p99Ms),
        n0(f.mlflow.concurrentReqPerS),
        n0(f.mlflow.batchVectorsPerS),
        '',
      ]),
    );
}
console.log(`predictor without the k-NN search cost (12 training rows): ${n0(overheadPerS)} predictions/s`);

const json = (f: LoadFigures | undefined) =>
  f && {
    score_p50_ms: Number(f.p50Ms.toFixed(3)),
    score_p99_ms: Number(f.p99Ms.toFixed(3)),
    concurrent_req_per_s: Math.round(f.concurrentReqPerS),
    batch_vectors_per_s: Math.round(f.batchVectorsPerS),
  };
const knn = figures['knn-k5'];
console.log(
  JSON.stringify({
    bench: 'serving',
    data: data.source,
    train_rows: sets.full.rows.length,
    model: knn ? `knn k=5, ${sets.full.rows.length} training vectors × ${D} features` : undefined,
    predictions_per_s: knn ? Math.round(predictorPerS['knn-k5']) : undefined,
    http_batch_predictions_per_s: knn ? Math.round(knn.ours.batchVectorsPerS) : undefined,
    predictor_overhead_only_per_s: Math.round(overheadPerS),
    score_p50_ms: knn ? Number(knn.ours.p50Ms.toFixed(3)) : undefined,
    score_p99_ms: knn ? Number(knn.ours.p99Ms.toFixed(3)) : undefined,
    kinds: Object.fromEntries(
      specs.map((s) => [
        s.name,
        {
          kind: s.kind,
          train_rows: sets[s.set].rows.length,
          ours: { ...json(figures[s.name].ours), predictor_per_s: Math.round(predictorPerS[s.name]) },
          mlflow: json(figures[s.name].mlflow),
          label_agreement: figures[s.name].agreement,
        },
      ]),
    ),
  }),
);
