/**
 * `npm run bench:adwin`: ADWIN here and in river on the same 1,000,000-value
 * streams in one run, agreement with river's golden fixtures, memory per
 * detector, featurizer and detector-bank throughput. Prints its figures, then
 * one JSON line. Not a test: nothing here asserts a speed.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { hasSharedHar, loadRecordings } from '../src/data/hapt.ts';
import { Adwin } from '../src/drift/adwin.ts';
import { DetectorBank } from '../src/drift/bank.ts';
import { FEATURE_NAMES, Featurizer } from '../src/features/index.ts';
import { generate, loadFixtures, type StreamSource, streamOf } from '../test/drift/streams.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

const STREAMS: Extract<StreamSource, { type: 'synthetic' }>[] = [
  { type: 'synthetic', seed: 101, scale: 1, segments: [{ kind: 'normal', n: 1_000_000, mean: 0, std: 1 }] },
  {
    type: 'synthetic',
    seed: 102,
    scale: 1,
    segments: [0, 0.5, -0.5, 1].map((mean) => ({ kind: 'normal' as const, n: 250_000, mean, std: 1 })),
  },
  {
    type: 'synthetic',
    seed: 103,
    scale: 1,
    segments: [
      { kind: 'bernoulli', n: 500_000, p: 0.1 },
      { kind: 'bernoulli', n: 500_000, p: 0.15 },
    ],
  },
];

function ours(values: Float64Array): { seconds: number; detections: number[] } {
  let best = Number.POSITIVE_INFINITY;
  let detections: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const adwin = new Adwin();
    const found: number[] = [];
    const start = performance.now();
    for (let i = 0; i < values.length; i++) {
      if (adwin.update(values[i]).driftDetected) found.push(i);
    }
    best = Math.min(best, (performance.now() - start) / 1000);
    detections = found;
  }
  return { seconds: best, detections };
}

function river(): { river: string; results: { n: number; seconds: number; detections: number[] }[] } | null {
  try {
    const python = execFileSync('bash', [path.join(ROOT, 'scripts/river/setup.sh')], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop()!;
    const out = execFileSync(python, [path.join(ROOT, 'scripts/river/bench_adwin.py'), JSON.stringify(STREAMS)], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    return JSON.parse(out.trim().split('\n').pop()!);
  } catch (err) {
    console.error(`river could not be run: ${(err as Error).message}`);
    return null;
  }
}

function bytesPerDetector(): { typedArrays: number; heap: number | null } {
  const features = 64;
  const feed = (bank: DetectorBank) => {
    const v = new Float64Array(features);
    let seed = 7;
    for (let i = 0; i < 1000; i++) {
      for (let k = 0; k < features; k++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        v[k] = seed / 4294967296;
      }
      bank.update(v, i);
    }
  };
  const one = new DetectorBank(FEATURE_NAMES.slice(0, features));
  feed(one);
  const typedArrays = one.byteLength / features;
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return { typedArrays, heap: null };
  const banks: DetectorBank[] = [];
  gc();
  const before = process.memoryUsage();
  for (let b = 0; b < 200; b++) {
    const bank = new DetectorBank(FEATURE_NAMES.slice(0, features));
    feed(bank);
    banks.push(bank);
  }
  gc();
  const after = process.memoryUsage();
  const used = after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers;
  return { typedArrays, heap: used / (banks.length * features) };
}

function featurizerThroughput(): { samplesPerS: number; vectors: Float64Array[] } {
  const recordings = loadRecordings('train', hasSharedHar() ? 'shared' : 'sample');
  const vectors: Float64Array[] = [];
  let samples = 0;
  const start = performance.now();
  for (const r of recordings) {
    const f = new Featurizer();
    for (const w of f.push(r.samples, r.labels)) vectors.push(w.features);
    samples += r.samples.length / 6;
  }
  return { samplesPerS: samples / ((performance.now() - start) / 1000), vectors };
}

function bankThroughput(vectors: Float64Array[]): number {
  const bank = new DetectorBank(FEATURE_NAMES);
  const rounds = Math.max(1, Math.ceil(20_000 / vectors.length));
  const start = performance.now();
  let n = 0;
  for (let r = 0; r < rounds; r++) for (const v of vectors) bank.update(v, n++);
  return n / ((performance.now() - start) / 1000);
}

const streams = STREAMS.map((s) => generate(s));
let total = 0;
let seconds = 0;
const ourRuns = streams.map((values) => {
  const r = ours(values);
  total += values.length;
  seconds += r.seconds;
  return r;
});
const updatesPerS = total / seconds;
console.log(`ours:  ${(updatesPerS / 1e6).toFixed(2)} M updates/s over ${streams.length} streams of 1,000,000 values`);

const reference = river();
let riverPerS: number | null = null;
let sameDetections: boolean | null = null;
if (reference) {
  const rTotal = reference.results.reduce((a, r) => a + r.n, 0);
  const rSeconds = reference.results.reduce((a, r) => a + r.seconds, 0);
  riverPerS = rTotal / rSeconds;
  sameDetections = reference.results.every(
    (r, i) => JSON.stringify(r.detections) === JSON.stringify(ourRuns[i].detections),
  );
  console.log(
    `river: ${(riverPerS / 1e6).toFixed(3)} M updates/s (river ${reference.river}); same detections on the bench streams: ${sameDetections}`,
  );
}

const fixtures = loadFixtures();
let agreeing = 0;
for (const fixture of fixtures) {
  const values = streamOf(fixture);
  const adwin = new Adwin(fixture.params);
  const found: number[] = [];
  for (let i = 0; i < values.length; i++) if (adwin.update(values[i]).driftDetected) found.push(i);
  if (JSON.stringify(found) === JSON.stringify(fixture.detections)) agreeing++;
}
const agreement = agreeing / fixtures.length;
console.log(`agreement with river's fixtures: ${agreeing}/${fixtures.length}`);

const memory = bytesPerDetector();
console.log(
  `bytes per detector holding a 1,000-value window: ${memory.typedArrays.toFixed(0)} in typed arrays` +
    (memory.heap === null
      ? ' (run with --expose-gc for the heap figure)'
      : `, ${memory.heap.toFixed(0)} measured on the heap`),
);
const feat = featurizerThroughput();
console.log(
  `featurizer: ${(feat.samplesPerS / 1e3).toFixed(0)} k samples/s (${feat.vectors.length} windows, ${FEATURE_NAMES.length} features)`,
);
const bankPerS = bankThroughput(feat.vectors);
console.log(`detector bank: ${(bankPerS / 1e3).toFixed(1)} k vectors/s of ${FEATURE_NAMES.length} features`);

console.log(
  JSON.stringify({
    updates_per_s: Math.round(updatesPerS),
    river_updates_per_s: riverPerS === null ? null : Math.round(riverPerS),
    ratio: riverPerS === null ? null : Number((updatesPerS / riverPerS).toFixed(2)),
    agreement,
    bench_streams_same_detections: sameDetections,
    bytes_per_detector: Math.round(memory.heap ?? memory.typedArrays),
    bytes_per_detector_typed_arrays: Math.round(memory.typedArrays),
    featurizer_samples_per_s: Math.round(feat.samplesPerS),
    bank_vectors_per_s: Math.round(bankPerS),
    features: FEATURE_NAMES.length,
  }),
);
