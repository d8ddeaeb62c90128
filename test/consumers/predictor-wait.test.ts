import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PredictorProcessor } from '../../consumers/predictor/processor.ts';
import { candidateTrainer } from '../../consumers/retrainer/candidates.ts';
import { bootstrapFirstModel } from '../../src/cli/bootstrap.ts';
import { startPredictor } from '../../src/cli/services.ts';
import { FEATURE_NAMES, FEATURE_SET } from '../../src/features/index.ts';
import { PipelineMetrics } from '../../src/metrics/metrics.ts';
import { KnnClassifier } from '../../src/model/knn.ts';
import { decodeEvent, encodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { FeatureVector } from '../../src/schemas/types.gen.ts';
import { ModelHandle } from '../../src/serving/model-handle.ts';
import { namespacedTopics, topicSpecs } from '../../src/topics.ts';
import { EmbeddedTrackingStore } from '../../src/tracking/embedded/store.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import { readTopic } from '../../src/transport/read.ts';
import type { BatchContext, ConsumedRecord } from '../../src/transport/types.ts';
import { featureVectors, recordingLogger } from '../support/features.ts';
import { waitFor } from '../support/wait.ts';

const WAITING = /^no model version deployed yet: .*activity-tracking bootstrap/;
const waitingGauge = async (metrics: PipelineMetrics) =>
  (await metrics.waitingForModel.get()).values.find((v) => v.labels.component === 'predictor')?.value;
const levelAtLeast = (records: Record<string, unknown>[], level: number) =>
  records.filter((r) => (r.level as number) >= level);

describe('predictor before its first model version', () => {
  it('holds the batch, heartbeating, logs once without an error, and scores all of it once a version arrives', async () => {
    const records: ConsumedRecord[] = featureVectors('features', { devices: 1, perDevice: 12 }).map((r, offset) => ({
      topic: r.topic,
      partition: 0,
      offset,
      key: r.key ?? null,
      value: r.value,
      headers: r.headers ?? {},
      timestamp: 0,
    }));
    const data = records.map((r) => decodeEvent(r.headers, r.value).data as FeatureVector);
    const classifier = KnnClassifier.train(
      {
        featureSet: FEATURE_SET,
        featureNames: FEATURE_NAMES,
        rows: data.map((d) => Float64Array.from(d.values)),
        labels: data.map((d) => d.label!),
      },
      { k: 1 },
    );
    const handle = new ModelHandle(async () => ({ classifier, digest: 'sha256:test' }));
    const { logger, records: logs } = recordingLogger();
    const metrics = new PipelineMetrics();
    const p = new PredictorProcessor({ handle, logger, metrics, firstModelWaitMs: 5 });
    expect(await waitingGauge(metrics)).toBe(1);
    let heartbeats = 0;
    const context: BatchContext = {
      stopping: false,
      heartbeat: async () => {
        heartbeats++;
      },
    };
    const batch = { topic: 'features', partition: 0, records, highWatermark: records.length };
    const scored = p.process(batch, [], context);
    await waitFor(() => heartbeats >= 5, 'the waiting batch to heartbeat several times');
    await handle.switchTo({ name: 'm', version: 1 });
    const out = await scored;
    expect(out.filter((o) => o.headers?.ce_type === EVENT_TYPES.prediction)).toHaveLength(records.length);
    expect(await waitingGauge(metrics)).toBe(0);
    const lines = logs();
    expect(lines.filter((l) => WAITING.test(String(l.msg)))).toHaveLength(1);
    expect(lines.filter((l) => String(l.msg).startsWith('first model version deployed'))).toHaveLength(1);
    expect(levelAtLeast(lines, 40)).toEqual([]);

    // A stop while waiting hands the batch back uncommitted, for redelivery.
    const idle = new PredictorProcessor({ handle: new ModelHandle(async () => ({ classifier, digest: 'x' })) });
    const stopping = { stopping: true, heartbeat: async () => {} };
    await expect(idle.process(batch, [], stopping)).rejects.toMatchObject({ code: 'STOPPING' });
  });

  it('the predictor service is not ready and commits nothing while it waits; bootstrap + deployment → all scored', async () => {
    const log = new EmbeddedLog();
    const topics = namespacedTopics(`pw-${randomUUID()}`);
    await log.ensureTopics(topicSpecs(2, topics));
    const backend = new EmbeddedTrackingStore(mkdtempSync(path.join(tmpdir(), 'predictor-wait-')));
    const vectors = featureVectors(topics.features);
    const producer = await log.producer();
    await producer.publish(vectors);
    const { logger, records: logs } = recordingLogger();
    const metrics = new PipelineMetrics();
    const group = `pw-${randomUUID()}`;
    const running = await startPredictor({
      transport: log,
      wiring: { transport: log, logger, metrics, topics, groupId: group },
      logger,
      backend,
    });
    try {
      await waitFor(() => logs().some((l) => WAITING.test(String(l.msg))), 'the predictor to say it waits');
      expect(running.ready?.()).toBe(false);
      expect(running.details()).toMatchObject({ version: null, waitingForModel: expect.stringMatching(/bootstrap/) });
      expect(await waitingGauge(metrics)).toBe(1);
      expect((await log.committedOffsets(group, topics.features)).filter((o) => o >= 0)).toEqual([]);

      // The first version, as an operator makes it; the deployer's `succeeded` is what the switcher follows.
      const model = `m-${randomUUID().slice(0, 8)}`;
      const trainer = candidateTrainer([{ name: 'knn-k5', kind: 'knn', options: { k: 5 } }], { mode: 'in-process' });
      const { outcome } = await bootstrapFirstModel({ transport: log, backend, topics, trainer, model });
      const { headers, value } = encodeEvent({
        type: EVENT_TYPES.deployment,
        source: 'test',
        subject: `${model}@1`,
        data: {
          event: 'succeeded',
          model,
          version: outcome.version.version,
          target: 'local',
          previousVersion: null,
          endpoint: null,
          reason: null,
        },
      });
      await producer.publish([{ topic: topics.deploymentEvents, key: model, headers, value }]);

      let predictions = 0;
      await waitFor(
        async () => {
          predictions = 0;
          for await (const _ of readTopic(log, topics.predictions)) predictions++;
          return predictions >= vectors.length;
        },
        'every waiting vector to be scored',
        { timeoutMs: 10_000 },
      );
      expect(predictions).toBe(vectors.length);
      expect(running.ready?.()).toBe(true);
      expect(await waitingGauge(metrics)).toBe(0);
      const lines = logs();
      expect(lines.filter((l) => WAITING.test(String(l.msg)))).toHaveLength(1);
      expect(levelAtLeast(lines, 40)).toEqual([]);
    } finally {
      await producer.close();
      await running.stop();
      await log.close();
    }
  });
});
