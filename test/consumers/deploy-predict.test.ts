import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deployerConsumer, predictorConsumer } from '../../consumers/index.ts';
import { ModelSwitcher } from '../../consumers/predictor/switcher.ts';
import { drained } from '../../src/cli/drain.ts';
import { LocalTarget } from '../../src/deploy/local.ts';
import { StreamConsumer } from '../../src/pipeline/stream-consumer.ts';
import { decodeEvent, encodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { DeploymentEvent, DriftEvent, Prediction } from '../../src/schemas/types.gen.ts';
import { ModelHandle } from '../../src/serving/model-handle.ts';
import { directoryModelSource } from '../../src/serving/model-source.ts';
import { namespacedTopics, topicSpecs } from '../../src/topics.ts';
import { KafkaTransport } from '../../src/transport/kafka/kafka-transport.ts';
import type { OutgoingRecord, Transport } from '../../src/transport/types.ts';
import { writeTestModel } from '../serving/models.ts';
import { requireKafka } from '../setup/services.ts';
import { waitFor } from '../support/wait.ts';

const CLASSES = ['SITTING', 'WALKING'];
const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function readAll(transport: Transport, topic: string) {
  const ends = await transport.endOffsets(topic);
  const all = [];
  for (let p = 0; p < ends.length; p++)
    if (ends[p] > 0) all.push(...(await transport.readRange(topic, p, 0, ends[p] - 1)));
  return all;
}

/** Waits until `read` gives a value `accept` takes, and returns that value. */
async function until<T>(what: string, read: () => Promise<T>, accept: (v: T) => boolean): Promise<T> {
  let last: T | undefined;
  await waitFor(async () => accept((last = await read())), what, { timeoutMs: 60_000, intervalMs: 200 });
  return last as T;
}

describe('deployer and predictor on the real broker, local target', () => {
  it('promotion switches predictions to the new version; a failing version leaves the old one; labels that go wrong raise concept drift', {
    timeout: 180_000,
  }, async () => {
    const transport = new KafkaTransport({
      brokers: requireKafka(),
      clientId: 'deploy-predict-test',
      ssl: false,
      replicationFactor: -1,
      connectionTimeoutMs: 10_000,
    });
    cleanup.push(() => transport.close());
    const topics = namespacedTopics(`t-${randomUUID()}`);
    await transport.ensureTopics(topicSpecs(3, topics));
    const dir = await mkdtemp(path.join(tmpdir(), 'deploy-predict-'));
    await writeTestModel(dir, { name: 'har', version: 1 });
    await writeTestModel(dir, { name: 'har', version: 2 });
    await writeTestModel(dir, { name: 'har', version: 3 });
    await writeFile(path.join(dir, 'har', '3', 'digest'), `sha256:${'2'.repeat(64)}\n`); // fails to load → not ready

    const target = new LocalTarget({ modelDir: dir });
    cleanup.push(() => target.close());
    const handle = new ModelHandle(directoryModelSource(dir));
    const group = randomUUID();
    const w = { transport, topics, groupId: `deployer-${group}` };
    const deployer = deployerConsumer(w, { target });
    const predictor = predictorConsumer({ ...w, groupId: `predictor-${group}` }, { handle, minErrors: 20 });
    const switcher = new StreamConsumer({
      component: 'switcher',
      transport,
      groupId: `switcher-${group}`,
      topics: [topics.deploymentEvents],
      processor: new ModelSwitcher(handle),
    });
    for (const c of [deployer.consumer, predictor.consumer, switcher]) {
      await c.start();
      cleanup.push(() => c.stop());
    }
    const producer = await transport.producer();
    cleanup.push(() => producer.close());

    const promote = (version: number) => {
      const { headers, value } = encodeEvent({
        type: EVENT_TYPES.model,
        source: 'test/retrainer',
        id: randomUUID(),
        data: {
          event: 'promoted',
          model: 'har',
          version,
          runId: `run-${version}`,
          scores: { metric: 'f1', candidate: 0.9 },
        },
      });
      return producer.publish([{ topic: topics.modelEvents, key: 'har', headers, value }]);
    };
    let seq = 0;
    const vectors = async (n: number, flipLabels: boolean) => {
      const out: OutgoingRecord[] = [];
      for (let i = 0; i < n; i++, seq++) {
        const c = seq % 2;
        const device = `phone-${seq % 3}`;
        const { headers, value } = encodeEvent({
          type: EVENT_TYPES.featureVector,
          source: 'test/featurizer',
          subject: device,
          id: `fv-${seq}`,
          data: {
            device,
            featureSet: 'test-8',
            values: Array.from({ length: 8 }, (_, j) => c * 5 + ((seq * 7 + j) % 10) / 20 - 0.25) as [
              number,
              ...number[],
            ],
            window: { start: seq * 1280, end: seq * 1280 + 2540, firstSample: seq * 64, lastSample: seq * 64 + 127 },
            source: { topic: topics.sensorReadings, partition: 0, firstOffset: seq, lastOffset: seq },
            label: CLASSES[flipLabels ? 1 - c : c],
          },
        });
        out.push({ topic: topics.features, key: device, headers, value });
      }
      await producer.publish(out);
    };
    const deployments = async () =>
      (await readAll(transport, topics.deploymentEvents)).map(
        (r) => decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.deployment] }).data as DeploymentEvent,
      );
    const predictions = async () =>
      (await readAll(transport, topics.predictions)).map(
        (r) => decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.prediction] }).data as Prediction,
      );
    const waitPredictions = (n: number) => until(`${n} predictions`, predictions, (p) => p.length >= n);

    // Vectors before any deployment wait for v1; bad records on both inputs are dead-lettered.
    await vectors(30, false);
    await producer.publish([
      { topic: topics.features, key: 'phone-0', value: Buffer.from('not an event') },
      { topic: topics.modelEvents, key: 'har', value: Buffer.from('{"nope":1}') },
    ]);
    // v1: deployed, predictor switches to it, everything scored by v1.
    await promote(1);
    await waitFor(() => handle.current()?.ref.version === 1, 'the predictor to switch to v1');
    await vectors(30, false);
    let preds = await waitPredictions(60);
    expect(preds.every((p) => p.version === 1)).toBe(true);
    expect(preds.every((p) => p.activity === p.label)).toBe(true);

    // v3 fails its health check: failed + rolled-back, v1 keeps serving, zero failed predictions.
    await promote(3);
    const events = await until('v3 rolled back', deployments, (d) =>
      d.some((e) => e.version === 3 && e.event === 'rolled-back'),
    );
    expect(events.filter((e) => e.version === 3).map((e) => e.event)).toEqual(['started', 'failed', 'rolled-back']);
    expect(events.find((e) => e.event === 'rolled-back')!.previousVersion).toBe(1);
    expect(target.current()?.model.version).toBe(1);
    const r = await fetch(`${target.current()!.endpoint}/readyz`);
    expect(((await r.json()) as { version: number }).version).toBe(1);
    // Labels now disagree with the model: its error rate rises → concept drift.
    await vectors(120, true);
    preds = await waitPredictions(180);
    expect(preds.filter((p) => p.window.start >= 60 * 1280).every((p) => p.version === 1)).toBe(true);
    const drifts = await until(
      'concept drift',
      async () =>
        (await readAll(transport, topics.driftEvents)).map(
          (r) => decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.drift] }).data as DriftEvent,
        ),
      (d) => d.length > 0,
    );
    expect(drifts[0]).toMatchObject({ kind: 'concept', feature: null, featureIndex: null });
    expect(drifts[0].meanAfter).toBeGreaterThan(0.5);

    // v2: promoted, then the promotion redelivered: deployed once, later records carry v2.
    await promote(2);
    await promote(2);
    await waitFor(() => handle.current()?.ref.version === 2, 'the predictor to switch to v2');
    await vectors(60, false);
    preds = await waitPredictions(240);
    expect(preds.filter((p) => p.window.start >= 180 * 1280).every((p) => p.version === 2)).toBe(true);
    // Both promotions of v2 handled (the redelivery skipped) and every vector scored: nothing more comes.
    await drained(
      transport,
      [
        [`deployer-${group}`, topics.modelEvents],
        [`predictor-${group}`, topics.features],
      ],
      60_000,
    );
    const v2 = (await deployments()).filter((e) => e.version === 2).map((e) => e.event);
    expect(v2).toEqual(['started', 'succeeded']);
    expect(deployer.processor.stats.skipped).toBe(1);

    // No record dropped or scored twice: one prediction per feature vector offset.
    preds = await predictions();
    expect(preds.length).toBe(240);
    const sources = new Set(preds.map((p) => `${p.source.partition}:${p.source.offset}`));
    expect(sources.size).toBe(240);
    const dead = (await readAll(transport, topics.deadLetter)).map(
      (r) => decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.deadLetter] }).data,
    );
    expect(dead.map((d) => d.component).sort()).toEqual(['deployer', 'predictor']);
  });
});
