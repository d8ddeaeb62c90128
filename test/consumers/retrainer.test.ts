import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { candidateTrainer } from '../../consumers/retrainer/candidates.ts';
import { RetrainerConsumer } from '../../consumers/retrainer/consumer.ts';
import { resolveRetrainerOptions } from '../../consumers/retrainer/options.ts';
import { bootstrap, type RetrainOutcome, retrain, TAGS } from '../../consumers/retrainer/retrain.ts';
import { drained } from '../../src/cli/drain.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { loadModel } from '../../src/model/artifact.ts';
import { decodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { ModelEvent } from '../../src/schemas/types.gen.ts';
import { namespacedTopics } from '../../src/topics.ts';
import { EmbeddedTrackingStore } from '../../src/tracking/embedded/store.ts';
import { MlflowTrackingStore } from '../../src/tracking/mlflow/store.ts';
import { CHAMPION, type Registry, type Tracker, type TrackingBackend } from '../../src/tracking/types.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import { readTopic } from '../../src/transport/read.ts';
import type { Transport } from '../../src/transport/types.ts';
import { requireMlflow, testKafka } from '../setup/services.ts';
import { runLoop } from '../support/run-loop.ts';
import { waitFor } from '../support/wait.ts';

const trainer = candidateTrainer([
  { name: 'knn-k5', kind: 'knn', options: { k: 5 } },
  { name: 'svm-linear', kind: 'svm', options: { kernel: 'linear', cost: 0.01 } },
]);

async function modelEvents(transport: Transport, topic: string): Promise<{ id: string; data: ModelEvent }[]> {
  const out = [];
  for await (const r of readTopic(transport, topic)) {
    const e = decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.model] });
    out.push({ id: e.attributes.id, data: e.data });
  }
  return out;
}

type Store = TrackingBackend & Tracker & Registry;
const embeddedStore = async (): Promise<Store> =>
  new EmbeddedTrackingStore(mkdtempSync(path.join(tmpdir(), 'retrainer-')));

describe.each([
  ['the embedded log, embedded tracking', async (): Promise<Transport> => new EmbeddedLog(), embeddedStore],
  ['the real broker, embedded tracking', async (): Promise<Transport> => testKafka('retrainer-test'), embeddedStore],
  [
    'the embedded log, a real MLflow server',
    async (): Promise<Transport> => new EmbeddedLog(),
    async (): Promise<Store> => new MlflowTrackingStore({ uri: await requireMlflow() }),
  ],
])('retrainer on %s', (_name, makeTransport, makeBackend) => {
  it('drift events in → one version with its lineage, promoted only when better; redelivery adds none', {
    timeout: 300_000,
  }, async () => {
    const transport = await makeTransport();
    const backend = await makeBackend();
    try {
      const topics = namespacedTopics(`rt-${randomUUID()}`);
      await runLoop(
        transport,
        { data: 'sample', drift: 'rotation:z:45', loops: 2, speed: 'max', partitions: 3, topics },
        silentLogger,
        () => {},
      );
      const har = `har-${randomUUID().slice(0, 8)}`;
      // Retraining alone: the retrainer reads the drift after the phones have gone, so no calibration could apply.
      const options = resolveRetrainerOptions({
        quietMs: 300,
        maxWaitMs: 3000,
        pollMs: 100,
        model: har,
        calibrate: false,
      });
      const deps = { transport, backend, topics, trainer, options };

      // A burst of drift events becomes one retraining: the first model, promoted without a contest.
      const outcomes: RetrainOutcome[] = [];
      const group = `rt-${randomUUID()}`;
      const consumer = new RetrainerConsumer({
        ...options,
        transport,
        backend,
        trainer,
        topics,
        groupId: group,
        onRetrained: (o) => outcomes.push(o),
      });
      await consumer.start();
      await waitFor(() => outcomes.length >= 1, 'the first retraining outcome', { timeoutMs: 120_000, intervalMs: 50 });
      // The group goes on to commit every drift event: the rest of the burst starts nothing of its own.
      await drained(transport, [[group, topics.driftEvents]], 120_000);
      expect(consumer.busy).toBe(false);
      await consumer.stop();
      expect(outcomes).toHaveLength(1);
      const [first] = outcomes;
      expect(first.status).toBe('trained');
      expect(first.version?.version).toBe(1);
      expect(first.promoted).toBe(true);
      expect((await backend.byAlias(har, CHAMPION))?.version).toBe(1);

      let events = await modelEvents(transport, topics.modelEvents);
      expect(events.map((e) => e.id)).toEqual([`${har}:1:registered`, `${har}:1:promoted`]);
      const lineage = events[0].data.lineage!;
      expect(lineage.topic).toBe(topics.features);
      expect(lineage.records).toBe(lineage.ranges.reduce((n, r) => n + r.records, 0));
      expect(lineage.records).toBeGreaterThan(100);
      expect(lineage.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(events[0].data.trigger!.length).toBeGreaterThan(0);
      // The version is traceable: its run logged the same lineage, and its artifact loads by digest.
      const version = first.version!;
      expect(JSON.parse((await backend.readArtifact(version.runId, 'lineage.json')).toString())).toEqual(lineage);
      const model = loadModel(await backend.readVersionArtifact(version), version.artifactDigest);
      expect(model.classifier.classes.length).toBeGreaterThanOrEqual(5);
      const run = await backend.getRun(version.runId);
      expect(run.status).toBe('FINISHED');
      expect(run.metrics.macroF1).toBeGreaterThan(0.5);
      const children = await backend.searchRuns(run.experimentId, { tags: { 'mlflow.parentRunId': version.runId } });
      expect(children.map((c) => c.name).sort()).toEqual(['knn-k5', 'svm-linear']);

      // Redelivery: a new instance of another group reads the same drift events again: no new version.
      const again: RetrainOutcome[] = [];
      const secondGroup = `rt-${randomUUID()}`;
      const second = new RetrainerConsumer({
        ...options,
        transport,
        backend,
        trainer,
        topics,
        groupId: secondGroup,
        onRetrained: (o) => again.push(o),
      });
      await second.start();
      // Every drift event is consumed and committed before the verdict: nothing was retrained for them.
      await drained(transport, [[secondGroup, topics.driftEvents]], 120_000);
      await second.stop();
      expect(again).toEqual([]);
      expect(await backend.listVersions(har)).toHaveLength(1);
      // The same trigger retrained directly is "already done" with the same events.
      const key = version.tags[TAGS.key];
      const repeat = await retrain(deps, {
        key,
        trigger: [],
        postDrift: { ranges: [], devices: new Set() },
        covers: {},
      });
      expect(repeat.status).toBe('already-done');
      expect(repeat.events.map((e) => e.headers!.ce_id)).toEqual([`${har}:1:registered`, `${har}:1:promoted`]);

      // The gate: a challenger whose evidence can never be strong enough is registered, not promoted.
      const strict = { ...deps, options: { ...options, alpha: 1e-300, minGateWindows: 1 } };
      const challenger = await bootstrap(strict);
      expect(challenger.version?.version).toBe(2);
      expect(challenger.promoted).toBe(false);
      expect((await backend.byAlias(har, CHAMPION))?.version).toBe(1);
      const rejected = challenger.events.map((e) => decodeEvent(e.headers!, e.value).data as ModelEvent);
      expect(rejected.map((e) => e.event)).toEqual(['registered', 'rejected']);
      expect(rejected[1].scores.production).not.toBeNull();
      expect(rejected[1].reason).toMatch(/does not beat production v1 at alpha 1e-300/);
      expect(rejected[1].gate).toMatchObject({ test: 'mcnemar-exact', alpha: 1e-300 });
      expect(rejected[1].gate!.windows).toBeGreaterThan(0);
      // The second instance re-sent v1's events (it cannot know they were out): same ids, nothing new.
      events = await modelEvents(transport, topics.modelEvents);
      expect([...new Set(events.map((e) => e.id))]).toEqual([`${har}:1:registered`, `${har}:1:promoted`]);
    } finally {
      await transport.close();
    }
  });
});
