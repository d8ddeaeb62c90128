/**
 * `npm run bench:adwin`: ADWIN here and in river on the same 1,000,000-value
 * streams in one run, agreement with river's golden fixtures, memory per
 * detector, featurizer and detector-bank throughput. Prints its figures, then
 * one JSON line. Not a test: nothing here asserts a speed.
 *
 * river 0.26.1 (the fixtures' reference) runs ADWIN in Rust behind one Python
 * call per value; river 0.21.2, the last Cython core, is timed too for
 * context (scripts/river/setup.sh cython). Both venvs are made on first use.
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
const REPS = 3;

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

interface Run {
  n: number;
  seconds: number;
  detections: number[];
}

function ours(values: Float64Array): Run {
  let best = Number.POSITIVE_INFINITY;
  let detections: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    const adwin = new Adwin();
    const found: number[] = [];
    const start = performance.now();
    for (let i = 0; i < values.length; i++) {
      if (adwin.update(values[i]).driftDetected) found.push(i);
    }
    best = Math.min(best, (performance.now() - start) / 1000);
    detections = found;
  }
  return { n: values.length, seconds: best, detections };
}

function river(flavor: '' | 'cython', reps: number): { river: string; results: Run[] } | null {
  try {
    const setup = [path.join(ROOT, 'scripts/river/setup.sh'), ...(flavor ? [flavor] : [])];
    const python = execFileSync('bash', setup, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
      .trim()
      .split('\n')
      .pop()!;
    const script = path.join(ROOT, 'scripts/river/bench_adwin.py');
    const out = execFileSync(python, [script, JSON.stringify(STREAMS), String(reps)], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    return JSON.parse(out.trim().split('\n').pop()!);
  } catch (err) {
    console.error(`river${flavor ? ` (${flavor})` : ''} could not be run: ${(err as Error).message}`);
    return null;
  }
}

const rate = (runs: Run[]) => runs.reduce((a, r) => a + r.n, 0) / runs.reduce((a, r) => a + r.seconds, 0);

/** Fills a detector with 1,000 pseudo-random values: an idle detector holding a 1,000-value window. */
function fill(update: (k: number, x: number) => void, features: number): void {
  let seed = 7;
  for (let i = 0; i < 1000; i++) {
    for (let k = 0; k < features; k++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      update(k, seed / 4294967296);
    }
  }
}

/**
 * Heap delta per object made by `make`. V8 frees array-buffer backing stores
 * and updates `arrayBuffers` lazily after a GC, so the heap is settled (GC,
 * then a pause) on both sides; without that, buffers freed by an earlier
 * measurement came off the second one (a standalone Adwin once read 956 B).
 */
async function heapDelta(make: () => unknown, count: number): Promise<number | null> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return null;
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const keep: unknown[] = [];
  await settle();
  const before = process.memoryUsage();
  for (let i = 0; i < count; i++) keep.push(make());
  await settle();
  const after = process.memoryUsage();
  const used = after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers;
  return keep.length > 0 ? used / count : null;
}

async function memory(): Promise<{ typedArrays: number; bankHeap: number | null; standaloneHeap: number | null }> {
  const features = 64;
  const names = FEATURE_NAMES.slice(0, features);
  const vector = new Float64Array(features);
  const makeBank = () => {
    const bank = new DetectorBank(names);
    let i = 0;
    fill((k, x) => {
      vector[k] = x;
      if (k === features - 1) bank.update(vector, i++);
    }, features);
    return bank;
  };
  const makeOne = () => {
    const adwin = new Adwin();
    fill((_k, x) => adwin.update(x), 1);
    return adwin;
  };
  const typedArrays = makeBank().byteLength / features;
  const bank = await heapDelta(makeBank, 200);
  const standalone = await heapDelta(makeOne, 5000);
  return { typedArrays, bankHeap: bank === null ? null : bank / features, standaloneHeap: standalone };
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

function bankThroughput(vectors: Float64Array[], features: number): number {
  const bank = new DetectorBank(FEATURE_NAMES.slice(0, features));
  const rows = vectors.map((v) => v.subarray(0, features));
  const rounds = Math.max(1, Math.ceil(20_000 / rows.length));
  const start = performance.now();
  let n = 0;
  for (let r = 0; r < rounds; r++) for (const v of rows) bank.update(v, n++);
  return n / ((performance.now() - start) / 1000);
}

const streams = STREAMS.map((s) => generate(s));
const ourRuns = streams.map(ours);
const updatesPerS = rate(ourRuns);
console.log(
  `ours:  ${(updatesPerS / 1e6).toFixed(2)} M updates/s over ${streams.length} streams of 1,000,000 values (best of ${REPS})`,
);

const reference = river('', REPS);
const riverPerS = reference ? rate(reference.results) : null;
const sameDetections = reference
  ? reference.results.every((r, i) => JSON.stringify(r.detections) === JSON.stringify(ourRuns[i].detections))
  : null;
if (reference && riverPerS) {
  console.log(
    `river ${reference.river} (Rust core): ${(riverPerS / 1e6).toFixed(3)} M updates/s, ratio ${(updatesPerS / riverPerS).toFixed(2)}; same detections on the bench streams: ${sameDetections}`,
  );
}
const cython = river('cython', 1);
const cythonPerS = cython ? rate(cython.results) : null;
if (cython && cythonPerS) {
  console.log(
    `river ${cython.river} (Cython core, context only): ${(cythonPerS / 1e6).toFixed(3)} M updates/s, ratio ${(updatesPerS / cythonPerS).toFixed(1)}`,
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
  else console.log(`  fixture ${fixture.name}: detections differ from river's`);
}
const agreement = agreeing / fixtures.length;
console.log(`agreement with river's fixtures: ${agreeing}/${fixtures.length} streams with identical detections`);

const mem = await memory();
const fmt = (b: number | null) => (b === null ? 'n/a (run with --expose-gc)' : `${b.toFixed(0)} B`);
console.log(
  `bytes per detector holding a 1,000-value window: ${mem.typedArrays.toFixed(0)} B of typed arrays, ` +
    `${fmt(mem.bankHeap)} on the heap inside a 64-feature bank, ${fmt(mem.standaloneHeap)} as a standalone Adwin`,
);
const feat = featurizerThroughput();
console.log(
  `featurizer: ${(feat.samplesPerS / 1e3).toFixed(0)} k samples/s (${feat.vectors.length} windows, ${FEATURE_NAMES.length} features)`,
);
const bankPerS = bankThroughput(feat.vectors, FEATURE_NAMES.length);
const bank60PerS = bankThroughput(feat.vectors, 60);
console.log(
  `detector bank: ${(bankPerS / 1e3).toFixed(1)} k vectors/s of ${FEATURE_NAMES.length} features, ` +
    `${(bank60PerS / 1e3).toFixed(1)} k vectors/s of 60 features`,
);

console.log(
  JSON.stringify({
    updates_per_s: Math.round(updatesPerS),
    river_updates_per_s: riverPerS === null ? null : Math.round(riverPerS),
    ratio: riverPerS === null ? null : Number((updatesPerS / riverPerS).toFixed(2)),
    river_version: reference?.river ?? null,
    river_cython_updates_per_s: cythonPerS === null ? null : Math.round(cythonPerS),
    ratio_vs_cython: cythonPerS === null ? null : Number((updatesPerS / cythonPerS).toFixed(2)),
    agreement,
    fixtures: fixtures.length,
    bench_streams_same_detections: sameDetections,
    bytes_per_detector: Math.round(mem.bankHeap ?? mem.typedArrays),
    bytes_per_detector_typed_arrays: Math.round(mem.typedArrays),
    bytes_per_standalone_adwin: mem.standaloneHeap === null ? null : Math.round(mem.standaloneHeap),
    featurizer_samples_per_s: Math.round(feat.samplesPerS),
    bank_vectors_per_s: Math.round(bankPerS),
    bank_features: FEATURE_NAMES.length,
    bank60_vectors_per_s: Math.round(bank60PerS),
    notes:
      'ratio is against river 0.26.1, whose ADWIN core is Rust (one Python call per value); ' +
      'ratio_vs_cython is against river 0.21.2, the last Cython core, for speed context only. ' +
      'bytes_per_detector: heap delta per detector inside a 64-feature bank (--expose-gc).',
  }),
);
