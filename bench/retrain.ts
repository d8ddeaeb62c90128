/**
 * bench:retrain — wall time from drift to a registered, promoted model on HAR.
 *
 * 1. The 21 UCI training users' windows (project features, labelled) go to the features topic of an
 *    embedded log; the retrainer's bootstrap trains the candidates and promotes v1.
 * 2. Six test users (2, 4, 9, 10, 12, 13) stream their sessions, then the same sessions with the phone
 *    worn rotated 45° about z. The real drift detector runs over the vectors; its drift events go to the
 *    drift topic at T0.
 * 3. The retrainer consumer gathers the burst (quiet period 1 s), trains every candidate on the
 *    post-drift vectors plus a reference sample, and the gate promotes v2 at T1.
 *    drift_to_promoted_s = T1 - T0 (burst wait + reading the data back + training + gate + registry).
 * 4. Held out: the other three test users (18, 20, 24), rotated. champion_test_accuracy is v2 on them;
 *    old_model_test_accuracy is v1 on them; bootstrap_test_accuracy is v1 on all 9 test users unrotated
 *    (UCI's subject split).
 *
 * Needs ../shared/data/har (or HAR_DIR). Run: npm run bench:retrain [-- --quick]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DriftDetectorProcessor } from '../consumers/drift-detector/processor.ts';
import { candidateTrainer, QUICK_CANDIDATES } from '../consumers/retrainer/candidates.ts';
import { RetrainerConsumer } from '../consumers/retrainer/consumer.ts';
import { resolveRetrainerOptions } from '../consumers/retrainer/options.ts';
import { bootstrap, type RetrainOutcome } from '../consumers/retrainer/retrain.ts';
import { applyInjection, parseInjection } from '../producers/replay/inject.ts';
import { hasSharedHar, type Recording, readRecordings, SHARED_HAR_DIR, sharedHarPaths } from '../src/data/hapt.ts';
import { FEATURE_SET, Featurizer } from '../src/features/index.ts';
import { loadModel } from '../src/model/artifact.ts';
import { argmaxClasses, evaluate } from '../src/model/evaluate.ts';
import { DEFAULT_CANDIDATES } from '../src/model/train.ts';
import { encodeEvent } from '../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../src/schemas/registry.ts';
import { TOPICS, topicSpecs } from '../src/topics.ts';
import { EmbeddedTrackingStore } from '../src/tracking/embedded/store.ts';
import { CHAMPION, type ModelVersion } from '../src/tracking/types.ts';
import { EmbeddedLog } from '../src/transport/embedded/log.ts';
import { readTopic } from '../src/transport/read.ts';
import type { OutgoingRecord } from '../src/transport/types.ts';

const dir = process.env.HAR_DIR ?? SHARED_HAR_DIR;
if (!hasSharedHar(dir)) {
  console.error(`bench:retrain needs the full HAPT recordings in ${dir}; set HAR_DIR`);
  process.exit(1);
}
const quick = process.argv.includes('--quick');
const specs = quick ? QUICK_CANDIDATES : DEFAULT_CANDIDATES;
const DRIFTING = new Set([2, 4, 9, 10, 12, 13]);
const rotation = parseInjection('rotation:z:45');

let clock = Date.UTC(2026, 0, 1);
function vectors(device: string, r: Recording): { data: Parameters<typeof encode>[0]; label: string | null }[] {
  const out = [];
  let sample = 0;
  for (const w of new Featurizer().push(r.samples, r.labels)) {
    const start = clock + w.firstSample * 20;
    out.push({
      data: {
        device,
        featureSet: FEATURE_SET,
        values: Array.from(w.features) as [number, ...number[]],
        window: {
          start,
          end: start + 127 * 20,
          firstSample: sample + w.firstSample,
          lastSample: sample + w.lastSample,
        },
        source: { topic: TOPICS.sensorReadings, partition: 0, firstOffset: 0, lastOffset: 0 },
        label: w.label,
      },
      label: w.label,
    });
  }
  sample += r.labels.length;
  clock += r.labels.length * 20;
  return out;
}

function encode(data: {
  device: string;
  featureSet: string;
  values: [number, ...number[]];
  window: { start: number; end: number; firstSample: number; lastSample: number };
  source: { topic: string; partition: number; firstOffset: number; lastOffset: number };
  label: string | null;
}): OutgoingRecord {
  const { headers, value } = encodeEvent({
    type: EVENT_TYPES.featureVector,
    source: 'bench/retrain',
    subject: data.device,
    id: `${data.device}:${data.window.firstSample}:${data.window.start}`,
    data,
    validate: false,
  });
  return { topic: TOPICS.features, key: data.device, headers, value };
}

const log = new EmbeddedLog();
await log.ensureTopics(topicSpecs(6));
const producer = await log.producer();
const paths = sharedHarPaths(dir);
const t0 = performance.now();
let trainWindows = 0;
for await (const r of readRecordings(paths.train)) {
  const vs = vectors(`train-${r.user}`, r);
  trainWindows += vs.length;
  await producer.publish(vs.map((v) => encode(v.data)));
}
const heldOut: { rows: Float64Array[]; labels: string[] } = { rows: [], labels: [] };
const testUnrotated: { rows: Float64Array[]; labels: string[] } = { rows: [], labels: [] };
const testRecordings: Recording[] = [];
for await (const r of readRecordings(paths.test)) testRecordings.push(r);
for (const r of testRecordings)
  for (const v of vectors(`test-${r.user}`, r))
    if (v.label) {
      testUnrotated.rows.push(Float64Array.from(v.data.values));
      testUnrotated.labels.push(v.label);
    }
console.log(
  `featurized and published ${trainWindows} training windows in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);

const backend = new EmbeddedTrackingStore(mkdtempSync(path.join(tmpdir(), 'bench-retrain-')));
const options = resolveRetrainerOptions({ quietMs: 1000, maxWaitMs: 10_000, pollMs: 100 });
const trainer = candidateTrainer(specs);
const deps = { transport: log, backend, topics: TOPICS, trainer, options };
const tb = performance.now();
const v1 = await bootstrap(deps);
const bootstrapSeconds = (performance.now() - tb) / 1000;
const accuracyOf = async (version: ModelVersion, data: { rows: Float64Array[]; labels: string[] }) => {
  const c = loadModel(await backend.readVersionArtifact(version), version.artifactDigest).classifier;
  return evaluate(data.labels, argmaxClasses(c.classes, c.predictProba(data.rows))).accuracy;
};
const bootstrapTestAccuracy = await accuracyOf(v1.version!, testUnrotated);
console.log(
  `bootstrap: v${v1.version?.version} in ${bootstrapSeconds.toFixed(1)} s; on the 9 test users (UCI split): ${(bootstrapTestAccuracy * 100).toFixed(2)} %`,
);

// The drifting phones: their sessions as recorded, then worn rotated.
const mark = await log.endOffsets(TOPICS.features);
for (const rotated of [false, true]) {
  for (const r of testRecordings) {
    if (!DRIFTING.has(r.user)) continue;
    const rec = rotated ? { ...r, ...applyInjection(r.samples, r.labels, rotation) } : r;
    await producer.publish(vectors(`test-${r.user}`, rec as Recording).map((v) => encode(v.data)));
  }
}
for (const r of testRecordings) {
  if (DRIFTING.has(r.user)) continue;
  const rec = applyInjection(r.samples, r.labels, rotation);
  for (const v of vectors(`held-${r.user}`, { ...r, ...rec } as Recording))
    if (v.label) {
      heldOut.rows.push(Float64Array.from(v.data.values));
      heldOut.labels.push(v.label);
    }
}
const detector = new DriftDetectorProcessor();
const driftEvents: OutgoingRecord[] = [];
for await (const rec of readTopic(log, TOPICS.features, mark)) {
  driftEvents.push(
    ...detector
      .process({ topic: rec.topic, partition: rec.partition, records: [rec], highWatermark: 0 })
      .filter((o) => o.topic === TOPICS.driftEvents),
  );
}
console.log(
  `drift detector: ${driftEvents.length} drift events on ${new Set(driftEvents.map((e) => e.key)).size} phones`,
);

let done: (o: RetrainOutcome) => void;
const promoted = new Promise<RetrainOutcome>((resolve) => {
  done = resolve;
});
const consumer = new RetrainerConsumer({
  ...options,
  transport: log,
  backend,
  trainer,
  onRetrained: (o) => done(o),
});
await consumer.start();
const T0 = performance.now();
await producer.publish(driftEvents);
const outcome = await promoted;
const driftToPromoted = (performance.now() - T0) / 1000;
await consumer.stop();
const champion = await backend.byAlias(options.model, CHAMPION);
const championTest = await accuracyOf(champion!, heldOut);
const oldTest = await accuracyOf(v1.version!, heldOut);
console.log(
  `\nretraining v${outcome.version?.version} (${outcome.status}, ${outcome.promoted ? 'promoted' : 'not promoted'}): drift → promoted in ${driftToPromoted.toFixed(1)} s (quiet period ${options.quietMs / 1000} s included)`,
);
console.log(
  `${'candidate'.padEnd(12)} ${'train s'.padStart(8)} ${'score s'.padStart(8)} ${'val acc'.padStart(8)} ${'val F1'.padStart(8)}`,
);
for (const c of outcome.candidates)
  console.log(
    `${c.name.padEnd(12)} ${c.trainSeconds.toFixed(2).padStart(8)} ${c.predictSeconds.toFixed(2).padStart(8)} ${(c.metrics.accuracy * 100).toFixed(2).padStart(8)} ${(c.metrics.macroF1 * 100).toFixed(2).padStart(8)}`,
  );
const run = await backend.getRun(champion!.runId);
console.log(
  `held-out rotated phones (users 18, 20, 24): v1 ${(oldTest * 100).toFixed(2)} %, new champion v${champion?.version} ${(championTest * 100).toFixed(2)} %`,
);
await log.close();
console.log(
  JSON.stringify({
    drift_to_promoted_s: Number(driftToPromoted.toFixed(2)),
    champion: run.params.champion_candidate,
    champion_version: champion?.version,
    champion_test_accuracy: Number(championTest.toFixed(4)),
    old_model_test_accuracy: Number(oldTest.toFixed(4)),
    bootstrap_test_accuracy: Number(bootstrapTestAccuracy.toFixed(4)),
    bootstrap_s: Number(bootstrapSeconds.toFixed(2)),
    train_seconds: Object.fromEntries(outcome.candidates.map((c) => [c.name, Number(c.trainSeconds.toFixed(2))])),
    validation_scoring_seconds: Object.fromEntries(
      outcome.candidates.map((c) => [c.name, Number(c.predictSeconds.toFixed(2))]),
    ),
    candidates: specs.length,
    drift_events: driftEvents.length,
  }),
);
