/**
 * Resampler throughput: 200 Hz accelerometer and gyroscope, each on its own jittered clock, pushed
 * as separate streams in 50-reading batches (a quarter second, as a gateway batch), onto the 50 Hz
 * grid. Counts input readings per second (both sensors' readings, each a 3-vector), best of REPS
 * passes, and the featurizer on the rows it emits for scale. Prints its figures, then one JSON line.
 * Not a test: nothing here asserts a speed.
 */
import { performance } from 'node:perf_hooks';
import { Featurizer } from '../src/features/index.ts';
import { Resampler } from '../src/features/resample.ts';
import { mulberry32 } from '../src/random.ts';

const RATE = 200;
const SECONDS = 1200;
const BATCH = 50;
const REPS = 5;

function stream(seed: number, offset: number): [Float64Array, Float64Array] {
  const rnd = mulberry32(seed);
  const n = RATE * SECONDS;
  const times = new Float64Array(n);
  const xyz = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) {
    const t = 1.7e12 + offset + (i * 1000) / RATE + (rnd() * 4 - 2);
    times[i] = t;
    for (let c = 0; c < 3; c++) xyz[i * 3 + c] = Math.sin(t * 0.0188 + c) + 0.05 * (rnd() - 0.5);
  }
  // Jitter reorders neighbours now and then; the resampler puts them back in order.
  return [times, xyz];
}

const acc = stream(1, 0);
const gyro = stream(2, 1.3);
const readings = acc[0].length + gyro[0].length;

function pass(): { seconds: number; rows: Float64Array; count: number } {
  const r = new Resampler();
  const rows = new Float64Array((SECONDS * 50 + 10) * 6);
  let count = 0;
  const start = performance.now();
  for (let i = 0; i < acc[0].length; i += BATCH) {
    const e = Math.min(acc[0].length, i + BATCH);
    let out = r.pushAcc(acc[0].subarray(i, e), acc[1].subarray(i * 3, e * 3));
    rows.set(out.samples, count * 6);
    count += out.count;
    out = r.pushGyro(gyro[0].subarray(i, e), gyro[1].subarray(i * 3, e * 3));
    rows.set(out.samples, count * 6);
    count += out.count;
  }
  const out = r.flush();
  rows.set(out.samples, count * 6);
  count += out.count;
  return { seconds: (performance.now() - start) / 1000, rows, count };
}

let best = Number.POSITIVE_INFINITY;
let last = pass();
for (let rep = 0; rep < REPS; rep++) {
  last = pass();
  best = Math.min(best, last.seconds);
}
const readingsPerSecond = readings / best;
const rowsPerSecond = last.count / best;

let featurizerBest = Number.POSITIVE_INFINITY;
const samples = last.rows.subarray(0, last.count * 6);
for (let rep = 0; rep < 3; rep++) {
  const f = new Featurizer();
  const start = performance.now();
  f.push(samples);
  featurizerBest = Math.min(featurizerBest, (performance.now() - start) / 1000);
}
const featurizerRowsPerSecond = last.count / featurizerBest;

console.log(`resampler: ${readings.toLocaleString()} readings (2 × ${RATE} Hz × ${SECONDS} s) in ${best.toFixed(3)} s`);
console.log(
  `  ${Math.round(readingsPerSecond).toLocaleString()} readings/s in, ${Math.round(rowsPerSecond).toLocaleString()} rows/s out`,
);
console.log(`featurizer on those rows: ${Math.round(featurizerRowsPerSecond).toLocaleString()} samples/s`);
console.log(
  `  per 50 Hz row: resampler ${((1e6 * best) / last.count).toFixed(2)} µs, featurizer ${((1e6 * featurizerBest) / last.count).toFixed(2)} µs`,
);
console.log(
  JSON.stringify({
    bench: 'resample',
    inputRateHz: RATE,
    readings,
    rows: last.count,
    readingsPerSecond: Math.round(readingsPerSecond),
    rowsPerSecond: Math.round(rowsPerSecond),
    featurizerSamplesPerSecond: Math.round(featurizerRowsPerSecond),
  }),
);
