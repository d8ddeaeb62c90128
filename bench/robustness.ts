/**
 * bench:robustness — the champion trained on the 21 training users' raw 50 Hz rows, scored live on the
 * 9 test users when their phones send the readings in other forms: (a) raw 50 Hz rows (v1); (b) already
 * conditioned by the phone's own stack (vector median of 3, 20 Hz Butterworth); (c) 100 and 200 Hz with
 * ±2 ms jitter and split sensors; (d) 40 Hz; (e) through an 8 Hz low-pass (a cheap accelerometer's
 * on-chip filter, `lowpass:8`). Every form goes replay → in-memory producer → FeaturizerProcessor, as
 * the consumer runs. Then the drift detector's verdict on `lowpass:8` injected half-way, and the
 * featurizer's throughput on timed 200 Hz split input against v1 rows.
 *
 * Reads the full recordings from ../shared/data/har (or HAR_DIR); without them it says so and exits 1.
 * Prints tables, then one JSON line. Not a test: nothing here asserts an accuracy or a speed.
 *
 * Run: npm run bench:robustness [-- --quick]   (--quick: k-NN k=5 and the linear SVM only)
 */
import { DriftDetectorProcessor } from '../consumers/drift-detector/processor.ts';
import { FeaturizerProcessor } from '../consumers/featurizer/processor.ts';
import type { Injection } from '../producers/replay/inject.ts';
import type { ReplayOptions } from '../producers/replay/replay.ts';
import {
  ACTIVITIES,
  hasSharedHar,
  type Recording,
  readHapt,
  SHARED_HAR_DIR,
  sharedHarPaths,
} from '../src/data/hapt.ts';
import { FEATURE_SET } from '../src/features/index.ts';
import { type CandidateSpec, DEFAULT_CANDIDATES, pickBest, trainCandidates } from '../src/model/index.ts';
import { decodeEvent } from '../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../src/schemas/registry.ts';
import type { DriftEvent } from '../src/schemas/types.gen.ts';
import { TOPICS } from '../src/topics.ts';
import type { ConsumedRecord } from '../src/transport/types.ts';
import {
  conditioned,
  consumed,
  featurized,
  paired,
  type Scored,
  START,
  score,
  sent,
  vectorsOf,
  windows,
} from './robustness-forms.ts';

const dir = process.env.HAR_DIR ?? SHARED_HAR_DIR;
if (!hasSharedHar(dir)) {
  console.error(
    `bench:robustness needs the full HAPT recordings in ${dir} (hapt-raw-train.csv.gz, hapt-raw-test.csv.gz); set HAR_DIR`,
  );
  process.exit(1);
}

const LOWPASS_8: Injection = { kind: 'lowpass', hz: 8 };
/** Test users whose 200 Hz stream is timed (enough for a stable figure, small enough to hold in memory). */
const THROUGHPUT_USERS = 3;
const quick = process.argv.includes('--quick');
const specs: readonly CandidateSpec[] = quick
  ? DEFAULT_CANDIDATES.filter((s) => s.name === 'knn-k5' || s.name === 'svm-linear')
  : DEFAULT_CANDIDATES;
const seconds = (t0: number) => (performance.now() - t0) / 1000;
const timings: Record<string, number> = {};

// 1. Train on the 21 training users, pick the champion.
const paths = sharedHarPaths(dir);
let t0 = performance.now();
const trainRecordings = readHapt(paths.train);
const testRecordings = readHapt(paths.test);
const train = windows(trainRecordings);
const test = windows(testRecordings);
timings.read_and_featurize_s = seconds(t0);
console.log(
  `${FEATURE_SET}: train ${train.rows.length} windows (21 users), test ${test.rows.length} windows (9 users, each recording alone) in ${timings.read_and_featurize_s.toFixed(1)} s`,
);
t0 = performance.now();
console.log(`${'candidate'.padEnd(12)} ${'accuracy'.padStart(8)} ${'macro-F1'.padStart(8)} ${'train s'.padStart(8)}`);
const results = trainCandidates(train, test, specs, {
  onResult: (r) =>
    console.log(
      `${r.name.padEnd(12)} ${r.metrics.accuracy.toFixed(4).padStart(8)} ${r.metrics.macroF1.toFixed(4).padStart(8)} ${(r.trainMs / 1000).toFixed(1).padStart(8)}`,
    ),
});
timings.train_s = seconds(t0);
// pickBest's default metric, macro-F1, is the one the retrainer promotes on.
const champion = pickBest(results);
const model = champion.classifier;
console.log(
  `champion ${champion.name} (pickBest, macro-F1)${quick ? ' [--quick]' : ''}; candidates trained in ${timings.train_s.toFixed(1)} s`,
);

// 2. Score it on the test users' phones, each form through the featurizer consumer.
interface Form {
  key: string;
  what: string;
  recordings: Recording[];
  options: Omit<ReplayOptions, 'recordings'>;
}
const forms: Form[] = [
  { key: 'raw', what: '(a) raw 50 Hz rows (v1)', recordings: testRecordings, options: {} },
  {
    key: 'prefiltered',
    what: '(b) median-3 + 20 Hz low-pass on the phone (v1)',
    recordings: testRecordings.map(conditioned),
    options: {},
  },
  {
    key: 'hz100_jitter_split',
    what: '(c) 100 Hz, ±2 ms jitter, split sensors (v2)',
    recordings: testRecordings,
    options: { phone: { rate: 100, jitterMs: 2, splitSensors: true } },
  },
  {
    key: 'hz200_jitter_split',
    what: '(c) 200 Hz, ±2 ms jitter, split sensors (v2)',
    recordings: testRecordings,
    options: { phone: { rate: 200, jitterMs: 2, splitSensors: true } },
  },
  {
    key: 'hz40',
    what: '(d) 40 Hz, timed, no jitter (v2)',
    recordings: testRecordings,
    options: { phone: { rate: 40 } },
  },
  {
    key: 'lowpass8',
    what: '(e) 8 Hz low-pass from the start (v1, lowpass:8)',
    recordings: testRecordings,
    options: { drift: { atSeconds: 0, injection: LOWPASS_8 } },
  },
];
const scores: Record<string, Scored & { deadLetters: number; seconds: number }> = {};
for (const form of forms) {
  const t = performance.now();
  const { features, deadLetters } = await featurized(form.recordings, form.options);
  scores[form.key] = { ...score(model, vectorsOf(features)), deadLetters, seconds: seconds(t) };
}
const base = scores.raw.accuracy;
const drop = (key: string) => 100 * (base - scores[key].accuracy);
console.log(
  `\nlive accuracy of ${champion.name} on the 9 test users (windows with one basic-activity label; on each recording alone, as above: ${champion.metrics.accuracy.toFixed(4)})`,
);
console.log(
  'lost / gained: windows (a) got right and this form wrong / the other way; p: two-sided exact McNemar; Δ σ: mean |Δ feature| against (a), in reference σ',
);
const header = [
  'form'.padEnd(50),
  'windows',
  'accuracy',
  ' drop pp',
  'lost/gained',
  '     p',
  '  Δ σ',
  'dead',
  '    s',
];
console.log(header.join(' '));
for (const form of forms) {
  const s = scores[form.key];
  const c = form.key === 'raw' ? null : paired(s, scores.raw);
  console.log(
    [
      form.what.padEnd(50),
      String(s.windows).padStart(7),
      s.accuracy.toFixed(4).padStart(8),
      (c ? drop(form.key).toFixed(2) : '—').padStart(8),
      (c ? `${c.lost}/${c.gained}` : '—').padStart(11),
      (c ? c.p.toFixed(3) : '—').padStart(6),
      (c ? c.shift.toFixed(3) : '—').padStart(5),
      String(s.deadLetters).padStart(4),
      s.seconds.toFixed(1).padStart(5),
    ].join(' '),
  );
}

console.log(`recall per activity: ${ACTIVITIES.join(', ')}`);
for (const form of forms)
  console.log(`${form.what.padEnd(50)} ${ACTIVITIES.map((a) => scores[form.key].recall[a].toFixed(3)).join(' ')}`);
console.log('most frequent mistakes (windows)');
for (const form of forms) {
  const top = [...scores[form.key].mistakes].sort((x, y) => y[1] - x[1]).slice(0, 3);
  console.log(`${form.what.padEnd(50)} ${top.map(([pair, n]) => `${pair} ${n}`).join(', ')}`);
}

// 3. The drift detector on lowpass:8 from half-way through each phone's stream.
t0 = performance.now();
const halfway = await featurized(testRecordings, { drift: { atFraction: 0.5, injection: LOWPASS_8 } });
const detector = new DriftDetectorProcessor();
const events: DriftEvent[] = [];
for (let from = 0; from < halfway.features.length; from += 256) {
  const records = consumed(halfway.features.slice(from, from + 256), TOPICS.features, from);
  for (const r of detector.process({ topic: TOPICS.features, partition: 0, records, highWatermark: from + 256 }))
    if (r.topic === TOPICS.driftEvents)
      events.push(decodeEvent(r.headers ?? {}, r.value, { accept: [EVENT_TYPES.drift] }).data);
}
timings.drift_s = seconds(t0);
// The change point of each phone: replay's `atFraction` of its rows (the user's recordings back to back).
const rowsByDevice = new Map<string, number>();
for (const r of testRecordings) {
  const device = `user-${String(r.user).padStart(2, '0')}`;
  rowsByDevice.set(device, (rowsByDevice.get(device) ?? 0) + r.labels.length);
}
const delays: number[] = [];
let before = 0;
const phonesBefore = new Set<string>();
for (const [device, rows] of rowsByDevice) {
  const change = START + Math.round(rows * 0.5) * 20;
  const mine = events.filter((e) => e.kind === 'data' && e.device === device);
  const early = mine.filter((e) => (e.time ?? 0) < change);
  before += early.length;
  if (early.length > 0) phonesBefore.add(device);
  const after = mine.filter((e) => (e.time ?? 0) >= change).map((e) => e.time ?? 0);
  if (after.length > 0) delays.push((Math.min(...after) - change) / 1000);
}
delays.sort((a, b) => a - b);
const mid = delays.length >> 1;
const median = delays.length === 0 ? null : delays.length % 2 ? delays[mid] : (delays[mid - 1] + delays[mid]) / 2;
console.log(
  `\ndrift detector on lowpass:8 from half-way (${halfway.features.length} vectors, ${events.length} data-drift events, ${timings.drift_s.toFixed(1)} s):`,
);
console.log(
  `  ${delays.length} of ${rowsByDevice.size} phones got a data-drift event after the change point; median delay ${median === null ? '—' : `${median.toFixed(1)} s`} of stream (each: ${delays.map((d) => d.toFixed(1)).join(', ')} s)`,
);
console.log(`  before it (first halves, no injection): ${before} events on ${phonesBefore.size} phones`);

// 4. Featurizer throughput: timed 200 Hz split sensors, and v1 50 Hz rows, through FeaturizerProcessor.
const throughputUsers = [...new Set(testRecordings.map((r) => r.user))].slice(0, THROUGHPUT_USERS);
const subset = testRecordings.filter((r) => throughputUsers.includes(r.user));
interface Throughput {
  sensorRows: number;
  rows50: number;
  seconds: number;
}
/** Best of five passes, each a fresh processor over the same records in 256-record batches, after a warm-up pass. */
function throughput({ records, rows50 }: { records: ConsumedRecord[]; rows50: number }): Throughput {
  let sensorRows = 0;
  for (const r of records) {
    const e = decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.sensorReadings, EVENT_TYPES.sensorReadingsV2] });
    // A v2 record holds one sensor's rows (split) or both sensors' (6 values); a v1 row holds both.
    const both = e.type === EVENT_TYPES.sensorReadings || (e.data as { sensor: string }).sensor === 'both';
    sensorRows += (both ? 2 : 1) * e.data.samples.length;
  }
  let best = Number.POSITIVE_INFINITY;
  for (let pass = 0; pass < 6; pass++) {
    const processor = new FeaturizerProcessor();
    const t = performance.now();
    for (let from = 0; from < records.length; from += 256)
      processor.process({
        topic: TOPICS.sensorReadings,
        partition: 0,
        records: records.slice(from, from + 256),
        highWatermark: 0,
      });
    if (pass > 0) best = Math.min(best, seconds(t));
  }
  return { sensorRows, rows50, seconds: best };
}
t0 = performance.now();
const fast = throughput(await sent(subset, { phone: { rate: 200, jitterMs: 2, splitSensors: true } }));
const slow = throughput(await sent(subset, {}));
timings.throughput_s = seconds(t0);
const perSecond = (n: number, s: number) => Math.round(n / s);
console.log(
  `\nfeaturizer consumer throughput, one core (${THROUGHPUT_USERS} test users, best of 5 after a warm-up; decode, resample, condition, featurize, encode):`,
);
console.log(
  `  timed 200 Hz split (v2): ${fast.sensorRows.toLocaleString()} sensor rows in ${fast.seconds.toFixed(2)} s: ${perSecond(fast.sensorRows, fast.seconds).toLocaleString()} sensor rows/s (an acc or a gyro reading, 3 values, counts one), ${perSecond(fast.sensorRows / 2, fast.seconds).toLocaleString()} acc+gyro pairs/s, ${perSecond(fast.rows50, fast.seconds).toLocaleString()} rows/s of the 50 Hz recording they carry`,
);
console.log(
  `  v1 50 Hz rows:           ${(slow.sensorRows / 2).toLocaleString()} rows in ${slow.seconds.toFixed(2)} s: ${perSecond(slow.sensorRows / 2, slow.seconds).toLocaleString()} rows/s (6 values: one acc and one gyro reading), ${perSecond(slow.sensorRows, slow.seconds).toLocaleString()} sensor rows/s`,
);
console.log(
  `timings: featurize ${timings.read_and_featurize_s.toFixed(1)} s, train ${timings.train_s.toFixed(1)} s, forms ${Object.values(
    scores,
  )
    .reduce((a, s) => a + s.seconds, 0)
    .toFixed(1)} s, drift ${timings.drift_s.toFixed(1)} s, throughput ${timings.throughput_s.toFixed(1)} s`,
);

const round = (v: number, d = 4) => Number(v.toFixed(d));
console.log(
  JSON.stringify({
    raw: round(scores.raw.accuracy),
    prefiltered: round(scores.prefiltered.accuracy),
    hz100_jitter_split: round(scores.hz100_jitter_split.accuracy),
    hz200_jitter_split: round(scores.hz200_jitter_split.accuracy),
    hz40: round(scores.hz40.accuracy),
    lowpass8: round(scores.lowpass8.accuracy),
    worst_drop_points: round(
      Math.max(...['prefiltered', 'hz100_jitter_split', 'hz200_jitter_split', 'hz40'].map(drop)),
      2,
    ),
    featurizer_samples_per_s: perSecond(fast.sensorRows, fast.seconds),
  }),
);
