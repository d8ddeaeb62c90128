import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type PositionedDataset, splitByTime, trainedUntil, unseenBy } from '../../consumers/retrainer/dataset.ts';
import { championGate } from '../../consumers/retrainer/gate.ts';
import { serializeModel } from '../../src/model/artifact.ts';
import { TRAINED_UNTIL_TAG } from '../../src/model/trained-until.ts';
import type { Classifier } from '../../src/model/types.ts';
import { EmbeddedTrackingStore } from '../../src/tracking/embedded/store.ts';
import { CHAMPION } from '../../src/tracking/types.ts';

/** Windows of 128 samples every 64 (the featurizer's), per device, some left unlabelled (gaps in the stream). */
function windows(devices: Record<string, number>, postDriftFrom = 0): PositionedDataset {
  const data: PositionedDataset = { featureSet: 't', featureNames: ['x'], rows: [], labels: [], positions: [] };
  let offset = 0;
  for (const [device, count] of Object.entries(devices))
    for (let i = 0; i < count; i++) {
      if (i % 7 === 3) continue;
      data.rows.push(Float64Array.of(i));
      // Activities come in segments of 10 windows, as a phone's do.
      data.labels.push(Math.floor(i / 10) % 2 === 0 ? 'even' : 'odd');
      data.positions.push({
        partition: 0,
        offset: offset++,
        device,
        firstSample: i * 64,
        lastSample: i * 64 + 127,
        postDrift: i >= postDriftFrom,
      });
    }
  return data;
}

const overlaps = (a: { firstSample: number; lastSample: number }, b: { firstSample: number; lastSample: number }) =>
  a.firstSample <= b.lastSample && b.firstSample <= a.lastSample;

describe('the retrainer split', () => {
  it('leaves no validation window sharing a sample with a training window, and validates on later windows', () => {
    const all = windows({ a: 200, b: 57, c: 3 });
    const { train, validation, gap } = splitByTime(all, 0.25);
    expect(validation.rows.length).toBeGreaterThan(40);
    expect(gap).toBeGreaterThan(0);
    const labelOf = (d: PositionedDataset, i: number) => d.labels[i];
    validation.positions.forEach((v, vi) => {
      train.positions.forEach((t, ti) => {
        if (v.device !== t.device) return;
        expect(overlaps(v, t), `${v.device} ${v.firstSample} vs ${t.firstSample}`).toBe(false);
        // Within an activity, validation is later than training.
        if (labelOf(validation, vi) === labelOf(train, ti)) expect(t.lastSample).toBeLessThan(v.firstSample);
      });
    });
    // Validation holds every activity of a device that has enough windows of it.
    expect(new Set(validation.labels)).toEqual(new Set(['even', 'odd']));
    // Every window is on one side or counted in the gap; a device with 3 windows only trains.
    expect(train.rows.length + validation.rows.length + gap).toBe(all.rows.length);
    expect(validation.positions.some((p) => p.device === 'c')).toBe(false);
    // Rows keep their values and labels.
    for (let i = 0; i < validation.rows.length; i++)
      expect(validation.labels[i]).toBe(Math.floor(validation.rows[i][0] / 10) % 2 === 0 ? 'even' : 'odd');
  });

  it('compares models only on post-drift windows neither trained on', () => {
    const all = windows({ a: 100, b: 100 }, 50);
    const { train, validation } = splitByTime(all, 0.25);
    const until = trainedUntil(train);
    // Only post-drift windows are compared: the reference rows (before the drift) are left out.
    const post = validation.positions.filter((p) => p.postDrift).length;
    expect(post).toBeGreaterThan(0);
    expect(unseenBy(validation, null).rows.length).toBe(post);
    // A model that trained further into device a's stream has seen some of these windows.
    const further = { ...until, a: validation.positions.filter((p) => p.device === 'a' && p.postDrift)[3].lastSample };
    const fresh = unseenBy(validation, further);
    expect(fresh.rows.length).toBeLessThan(post);
    expect(fresh.positions.every((p) => p.device !== 'a' || p.firstSample > further.a)).toBe(true);
    expect(fresh.positions.every((p) => p.postDrift)).toBe(true);
  });
});

/** A classifier that says `answer(row)`; serializable as a k-NN-free stub is not needed: the gate only predicts. */
function stub(answer: (x: number) => string, classes = ['even', 'odd']): Classifier {
  return {
    kind: 'stub',
    classes,
    featureSet: 't',
    params: {},
    predictProba: (rows) => rows.map((r) => classes.map((c) => (c === answer(r[0]) ? 1 : 0))),
    toState: () => ({}),
  };
}

describe('the champion/challenger gate', () => {
  it('promotes only on significant paired evidence, on windows unseen by production', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gate-'));
    const registry = new EmbeddedTrackingStore(dir);
    const model = 'gate-test';
    await registry.ensureModel(model);
    const truth = (x: number) => (Math.floor(x / 10) % 2 === 0 ? 'even' : 'odd');
    const { train, validation } = splitByTime(windows({ a: 400, b: 400 }, 100), 0.25);
    // Production: a real artifact in the registry (k-NN on the training rows), right on about half.
    const { KnnClassifier } = await import('../../src/model/knn.ts');
    const production = KnnClassifier.train(
      {
        ...train,
        rows: train.rows.map((r) => Float64Array.of(r[0] % 4)),
        labels: train.labels.map((_, i) => (i % 3 === 0 ? 'odd' : 'even')),
      },
      { k: 1 },
    );
    const { bytes, digest } = serializeModel(production, ['x']);
    const run = await registry.startRun(await registry.experiment('e'), { name: 'r' });
    const artifact = await registry.logArtifact(run.runId, 'model/model.json', bytes);
    const v1 = await registry.createVersion(model, {
      runId: run.runId,
      artifactPath: artifact.path,
      artifactDigest: digest,
      tags: { [TRAINED_UNTIL_TAG]: JSON.stringify(trainedUntil(train)) },
    });
    await registry.setAlias(model, CHAMPION, v1.version);
    const options = { alpha: 0.05, minWindows: 40 };

    const good = await championGate(registry, model, validation, stub(truth), options);
    expect(good.promote).toBe(true);
    expect(good.pValue!).toBeLessThan(0.05);
    expect(good.windows).toBeGreaterThanOrEqual(40);
    expect(good.candidate).toBe(1);
    expect(good.challengerOnly).toBeGreaterThan(good.championOnly);
    expect(good.reason).toMatch(/beats production v1 at alpha 0.05/);

    // No better than production on the same windows: the challenger disagrees nowhere.
    const same = await championGate(registry, model, validation, production, options);
    expect(same.promote).toBe(false);
    expect(same.pValue).toBe(1);
    expect(same.reason).toMatch(/does not beat production/);

    // Too little evidence: refused whatever the scores.
    const thin = await championGate(registry, model, validation, stub(truth), { alpha: 0.05, minWindows: 10_000 });
    expect(thin.promote).toBe(false);
    expect(thin.reason).toMatch(/only \d+ validation windows unseen by production v1/);
    await registry.close();
  });
});
