/**
 * `node --import tsx bench/checkpoint-stalls.ts [phones]` (issue 17): how long the state checkpoints hold
 * the event loop in a paced embedded run (bench/paced.ts, default 1,000 phones × 20 s). The processors'
 * `takeCheckpoint` and `snapshotStream` are wrapped to time each call; calls with no turn of the event
 * loop between them (a check phase) are one stretch, and a stretch's figure is the sum of its calls' time
 * (other work between them, such as another consumer's batch, is left out). Prints the stretches' count,
 * p50/p99/max and total ms, then the run's end-to-end p50/p99. Wall time: on a loaded machine a stretch
 * also holds the time the process was not scheduled. Not a test: nothing here asserts a speed.
 */
import { performance } from 'node:perf_hooks';
import { DriftDetectorProcessor } from '../consumers/drift-detector/processor.ts';
import { FeaturizerProcessor } from '../consumers/featurizer/processor.ts';
import { loadRecordings } from '../src/data/hapt.ts';
import { EmbeddedLog } from '../src/transport/embedded/log.ts';
import { chunksOf, measurePaced } from './paced.ts';

const phones = Number(process.argv[2] ?? 1000);
const stretches: number[] = [];
let open: number | undefined;
for (const processor of [FeaturizerProcessor.prototype, DriftDetectorProcessor.prototype]) {
  for (const name of ['takeCheckpoint', 'snapshotStream'] as const) {
    const original = processor[name] as (...args: unknown[]) => unknown;
    (processor as unknown as Record<string, unknown>)[name] = function (this: unknown, ...args: unknown[]) {
      const started = performance.now();
      const out = original.apply(this, args);
      const ms = performance.now() - started;
      if (open === undefined) {
        open = ms;
        setImmediate(() => {
          stretches.push(open!);
          open = undefined;
        });
      } else open += ms;
      return out;
    };
  }
}
const log = new EmbeddedLog();
const r = await measurePaced(log, {
  phones,
  seconds: 20,
  warmupSeconds: 3,
  chunks: chunksOf(loadRecordings('test', 'sample')),
  vectorEncoding: 'binary',
  checkpointInterval: 1000,
});
await log.close();
stretches.sort((a, b) => a - b);
const q = (p: number) =>
  Number((stretches[Math.min(stretches.length - 1, Math.floor(p * stretches.length))] ?? 0).toFixed(2));
console.log(
  JSON.stringify({
    phones,
    stretches: stretches.length,
    stretch_ms: { p50: q(0.5), p99: q(0.99), max: q(1) },
    encode_ms_total: Number(stretches.reduce((a, b) => a + b, 0).toFixed(1)),
    p50_ms: r.p50,
    p99_ms: r.p99,
    carried: r.carried,
  }),
);
