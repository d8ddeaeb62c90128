import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { candidateTrainer } from '../../consumers/retrainer/candidates.ts';
import { bootstrapFirstModel } from '../../src/cli/bootstrap.ts';
import { EXIT, exitCodeOf } from '../../src/cli/exit.ts';
import { decodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import { namespacedTopics, TOPICS, topicSpecs } from '../../src/topics.ts';
import { EmbeddedTrackingStore } from '../../src/tracking/embedded/store.ts';
import { CHAMPION } from '../../src/tracking/types.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import { readTopic } from '../../src/transport/read.ts';
import type { Transport } from '../../src/transport/types.ts';
import { requireKafka, testKafka } from '../setup/services.ts';
import { runInProcess } from '../support/cli.ts';
import { featureVectors } from '../support/features.ts';

// One fast candidate on the event loop: what is tested is the command, not the candidates.
const trainer = candidateTrainer([{ name: 'knn-k5', kind: 'knn', options: { k: 5 } }], { mode: 'in-process' });

async function modelEventIds(transport: Transport, topic: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const r of readTopic(transport, topic))
    ids.push(decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.model] }).attributes.id);
  return ids;
}

async function setup() {
  const log = new EmbeddedLog();
  const topics = namespacedTopics(`bs-${randomUUID()}`);
  await log.ensureTopics(topicSpecs(2, topics));
  const store = new EmbeddedTrackingStore(mkdtempSync(path.join(tmpdir(), 'bootstrap-')));
  const model = `m-${randomUUID().slice(0, 8)}`;
  const publish = async (records: ReturnType<typeof featureVectors>) => {
    const producer = await log.producer();
    await producer.publish(records);
    await producer.close();
  };
  return { log, topics, store, model, publish, deps: { transport: log, backend: store, topics, trainer, model } };
}

describe('bootstrap: the first model from the labelled features', () => {
  it('refuses an empty features topic with exit 69 and registers nothing', async () => {
    const { log, deps, store, model } = await setup();
    const err = await bootstrapFirstModel(deps).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect((err as Error).message).toMatch(/features topic ".*" is empty.*replay --split train/);
    expect(exitCodeOf(err)).toBe(EXIT.unavailable);
    expect(await store.listVersions(model)).toEqual([]);
    await log.close();
  });

  it('refuses a topic of unlabelled vectors with exit 69, saying why', async () => {
    const { log, deps, topics, store, model, publish } = await setup();
    await publish(featureVectors(topics.features, { labelled: false }));
    const err = await bootstrapFirstModel(deps).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect((err as Error).message).toMatch(
      /no first model trained from .*not enough labelled data: 0 post-drift vectors/,
    );
    expect(exitCodeOf(err)).toBe(EXIT.unavailable);
    expect(await store.listVersions(model)).toEqual([]);
    expect(await modelEventIds(log, topics.modelEvents)).toEqual([]);
    await log.close();
  });

  it('trains, promotes and announces v1; refuses while it is in production (exit 1) unless forced', async () => {
    const { log, deps, topics, store, model, publish } = await setup();
    await publish(featureVectors(topics.features));
    const first = await bootstrapFirstModel(deps);
    expect(first.outcome).toMatchObject({ status: 'trained', promoted: true, version: { version: 1 } });
    expect(first.previous).toBeNull();
    expect((await store.byAlias(model, CHAMPION))?.version).toBe(1);
    expect(await modelEventIds(log, topics.modelEvents)).toEqual([`${model}:1:registered`, `${model}:1:promoted`]);

    const refused = await bootstrapFirstModel(deps).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'CONFLICT' });
    expect((refused as Error).message).toMatch(/v1 of .* is in production already.*--force/);
    expect(exitCodeOf(refused)).toBe(EXIT.failure);
    expect(await store.listVersions(model)).toHaveLength(1);

    // Forced over the same data: the version made before, and its events not sent again while it is champion.
    const same = await bootstrapFirstModel({ ...deps, force: true });
    expect(same.outcome).toMatchObject({ status: 'already-done', version: { version: 1 } });
    // Forced over more data: a second version, which the gate judges against v1.
    await publish(featureVectors(topics.features, { devices: 1 }));
    const forced = await bootstrapFirstModel({ ...deps, force: true });
    expect(forced.outcome).toMatchObject({ status: 'trained', version: { version: 2 } });
    expect(forced.previous?.version).toBe(1);
    const ids = await modelEventIds(log, topics.modelEvents);
    expect(ids.slice(-2)).toEqual([
      `${model}:2:registered`,
      `${model}:2:${forced.outcome.promoted ? 'promoted' : 'rejected'}`,
    ]);
    await log.close();
  });

  it('on the embedded log the command is refused (exit 78): no features are shared there', async () => {
    const r = await runInProcess(['bootstrap'], { TRACKING_DIR: mkdtempSync(path.join(tmpdir(), 'bootstrap-')) });
    expect(r.code, r.stderr).toBe(EXIT.config);
    expect(r.stderr).toMatch(/^error \[INVALID_OPTION\]: bootstrap works on the topics other processes share/m);
  });
});

describe('activity-tracking bootstrap on the real broker', () => {
  it('trains and promotes v1 from the features topic and tells the deployer; a second run exits 1', {
    timeout: 60_000,
  }, async () => {
    const brokers = requireKafka();
    const kafka = testKafka('cli-bootstrap', brokers);
    try {
      await kafka.ensureTopics(topicSpecs(3));
      const producer = await kafka.producer();
      await producer.publish(featureVectors(TOPICS.features));
      await producer.close();
      const before = await kafka.endOffsets(TOPICS.modelEvents);
      const model = `boot-${randomUUID().slice(0, 8)}`;
      const env = { KAFKA_BROKERS: brokers.join(','), TRACKING_DIR: mkdtempSync(path.join(tmpdir(), 'bootstrap-')) };
      const r = await runInProcess(['--transport', 'kafka', 'bootstrap', '--quick', '--model', model], env);
      expect(r.code, r.stderr).toBe(EXIT.ok);
      expect(r.stdout).toMatch(
        new RegExp(`^v1 of ${model} trained \\(run .*\\): promoted; the deployer deploys it$`, 'm'),
      );
      const after = await kafka.endOffsets(TOPICS.modelEvents);
      const ids: string[] = [];
      for (let p = 0; p < after.length; p++)
        if (after[p] > (before[p] ?? 0))
          for (const rec of await kafka.readRange(TOPICS.modelEvents, p, before[p] ?? 0, after[p] - 1))
            ids.push(rec.headers.ce_id);
      expect(ids.filter((id) => id.startsWith(`${model}:`))).toEqual([`${model}:1:registered`, `${model}:1:promoted`]);

      const again = await runInProcess(['--transport', 'kafka', 'bootstrap', '--quick', '--model', model], env);
      expect(again.code, again.stderr).toBe(EXIT.failure);
      expect(again.stderr).toMatch(/^error \[CONFLICT\]: v1 of .* is in production already/m);
      expect(again.stderr).not.toMatch(/^\s+at /m);
    } finally {
      await kafka.close();
    }
  });
});
