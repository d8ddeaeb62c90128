/**
 * bench:serving — /score latency (single records, sequential) and batch
 * throughput over HTTP, and the predictor's in-process throughput (decode,
 * predict, encode per batch of 500) on the same k-NN. Last line: JSON.
 *
 *   BENCH_TRAIN_ROWS  training vectors of the k-NN @defaultValue 1000
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { PredictorProcessor } from '../consumers/predictor/processor.ts';
import { FEATURE_NAMES } from '../src/features/index.ts';
import { KnnClassifier, serializeModel } from '../src/model/index.ts';
import { encodeEvent } from '../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../src/schemas/registry.ts';
import { ModelHandle } from '../src/serving/model-handle.ts';
import { directoryModelSource, writeModelDirectory } from '../src/serving/model-source.ts';
import { startServing } from '../src/serving/server.ts';
import type { ConsumedRecord } from '../src/transport/types.ts';

const D = FEATURE_NAMES.length;
const TRAIN = Number(process.env.BENCH_TRAIN_ROWS ?? 1000);
const CLASSES = ['LAYING', 'SITTING', 'STANDING', 'WALKING', 'WALKING_DOWNSTAIRS', 'WALKING_UPSTAIRS'];
let s = 42;
const rand = () => {
  s = (s * 1103515245 + 12345) % 2147483648;
  return s / 2147483648;
};
const row = (c: number) => Float64Array.from({ length: D }, (_, j) => c + ((j * 7919) % 13) * 0.1 + rand() * 2);
const rows = Array.from({ length: TRAIN }, (_, i) => row(i % CLASSES.length));
const labels = rows.map((_, i) => CLASSES[i % CLASSES.length]);
const model = KnnClassifier.train({ featureSet: `bench-${D}`, featureNames: FEATURE_NAMES, rows, labels }, { k: 5 });
const dir = await mkdtemp(path.join(tmpdir(), 'bench-serving-'));
const { bytes, digest } = serializeModel(model, FEATURE_NAMES);
await writeModelDirectory(dir, { name: 'bench', version: 1 }, bytes, digest);
const source = directoryModelSource(dir);
const pct = (xs: number[], p: number) => xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

// 1. /score, one record per request, sequential.
const server = await startServing({ source, model: { name: 'bench', version: 1 } });
const single = JSON.stringify({ vector: Array.from(row(2)) });
const lat: number[] = [];
const N = 300;
for (let i = 0; i < N + 20; i++) {
  const t = performance.now();
  const r = await fetch(`${server.url}/score`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: single,
  });
  await r.json();
  if (i >= 20) lat.push(performance.now() - t);
}
const scoreP50 = pct(lat, 0.5);
const scoreP99 = pct(lat, 0.99);
console.log(`/score single: p50 ${scoreP50.toFixed(2)} ms, p99 ${scoreP99.toFixed(2)} ms (${N} sequential requests)`);

// 2. /score, batches of 200 (what a predictor calling the endpoint would do).
const batch = JSON.stringify({ vectors: Array.from({ length: 200 }, (_, i) => Array.from(row(i % 6))) });
let t0 = performance.now();
for (let i = 0; i < 10; i++)
  await (
    await fetch(`${server.url}/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: batch })
  ).json();
const httpBatchPerS = 2000 / ((performance.now() - t0) / 1000);
console.log(`/score batch of 200: ${httpBatchPerS.toFixed(0)} predictions/s`);
await server.close();

// 3. The predictor in-process: decode → one predictProba per batch → encode.
const handle = new ModelHandle(source);
await handle.switchTo({ name: 'bench', version: 1 });
const predictor = new PredictorProcessor({ handle });
const records: ConsumedRecord[] = Array.from({ length: 500 }, (_, i) => {
  const { headers, value } = encodeEvent({
    type: EVENT_TYPES.featureVector,
    source: 'bench',
    id: `b-${i}`,
    data: {
      device: `phone-${i % 8}`,
      featureSet: `bench-${D}`,
      values: Array.from(row(i % 6)) as [number, ...number[]],
      window: { start: i * 1280, end: i * 1280 + 2540, firstSample: i * 64, lastSample: i * 64 + 127 },
      source: { topic: 'r', partition: 0, firstOffset: i, lastOffset: i },
      label: CLASSES[i % 6],
    },
  });
  return {
    topic: 'features',
    partition: 0,
    offset: i,
    key: `phone-${i % 8}`,
    headers,
    value,
    timestamp: Date.now(),
  } as ConsumedRecord;
});
const batchOf = { topic: 'features', partition: 0, records, highWatermark: 500 } as never;
predictor.process(batchOf);
t0 = performance.now();
const ROUNDS = 4;
for (let i = 0; i < ROUNDS; i++) predictor.process(batchOf);
const predictorPerS = (ROUNDS * 500) / ((performance.now() - t0) / 1000);
console.log(
  `predictor in-process: ${predictorPerS.toFixed(0)} predictions/s (batches of 500, k-NN on ${TRAIN} × ${D})`,
);

// 4. The same predictor with a 12-row k-NN: the pipeline's own cost (decode, encode, ADWIN) without the search.
const tinyRows = rows.slice(0, 12);
const tiny = KnnClassifier.train(
  { featureSet: `bench-${D}`, featureNames: FEATURE_NAMES, rows: tinyRows, labels: labels.slice(0, 12) },
  { k: 5 },
);
const tinyArt = serializeModel(tiny, FEATURE_NAMES);
await writeModelDirectory(dir, { name: 'bench', version: 2 }, tinyArt.bytes, tinyArt.digest);
await handle.switchTo({ name: 'bench', version: 2 });
predictor.process(batchOf);
t0 = performance.now();
for (let i = 0; i < 20; i++) predictor.process(batchOf);
const overheadPerS = (20 * 500) / ((performance.now() - t0) / 1000);
console.log(`predictor without the k-NN search cost (12 training rows): ${overheadPerS.toFixed(0)} predictions/s`);

console.log(
  JSON.stringify({
    bench: 'serving',
    model: `knn k=5, ${TRAIN} training vectors × ${D} features (ml-knn kd-tree)`,
    predictions_per_s: Math.round(predictorPerS),
    http_batch_predictions_per_s: Math.round(httpBatchPerS),
    predictor_overhead_only_per_s: Math.round(overheadPerS),
    score_p50_ms: Number(scoreP50.toFixed(3)),
    score_p99_ms: Number(scoreP99.toFixed(3)),
  }),
);
