import { describe, expect, it } from 'vitest';
import { InvalidOptionError, TrainingError } from '../../src/errors.ts';
import { type CandidateSpec, serializeModel, trainCandidatesAsync } from '../../src/model/index.ts';
import { trainCandidatesInWorkers } from '../../src/model/workers.ts';
import { synthetic } from '../serving/models.ts';

/** Three overlapping classes in 12 dims, so that the candidates differ and errors show in the metrics. */
const train = synthetic(240, 12, 1, ['LAYING', 'SITTING', 'WALKING']);
const validation = synthetic(90, 12, 2, ['LAYING', 'SITTING', 'WALKING']);
for (const d of [train, validation]) for (const r of d.rows) for (let j = 0; j < 6; j++) r[j] *= 0.2;

const specs: CandidateSpec[] = [
  { name: 'knn-k3', kind: 'knn', options: { k: 3 } },
  { name: 'logreg', kind: 'logistic-regression', options: { steps: 60, rate: 1 } },
  { name: 'svm-linear', kind: 'svm', options: { kernel: 'linear', cost: 0.1 } },
];

describe('trainCandidatesInWorkers', () => {
  it('gives what trainCandidatesAsync gives: names, params, metrics, artifacts, predictions', async () => {
    const seen: string[] = [];
    const inWorkers = await trainCandidatesInWorkers(train, validation, specs, {
      concurrency: 2,
      onResult: (r) => seen.push(r.name),
    });
    const inProcess = await trainCandidatesAsync(train, validation, specs);
    expect(inWorkers.map((r) => r.name)).toEqual(specs.map((s) => s.name));
    expect(seen.sort()).toEqual(specs.map((s) => s.name).sort());
    for (let i = 0; i < specs.length; i++) {
      const a = inWorkers[i];
      const b = inProcess[i];
      expect(a.kind).toBe(b.kind);
      expect(a.params).toEqual(b.params);
      expect(a.metrics).toEqual(b.metrics);
      expect(a.trainMs).toBeGreaterThan(0);
      expect(a.predictMs).toBeGreaterThan(0);
      expect(serializeModel(a.classifier, train.featureNames).digest).toBe(
        serializeModel(b.classifier, train.featureNames).digest,
      );
      expect(a.classifier.predictProba(validation.rows)).toEqual(b.classifier.predictProba(validation.rows));
    }
  });

  it('rejects with the error class the candidate threw and names the candidate', async () => {
    const bad: CandidateSpec[] = [specs[0], { name: 'knn-huge', kind: 'knn', options: { k: 10_000 } }, specs[2]];
    const err = await trainCandidatesInWorkers(train, validation, bad, { concurrency: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect(err).toMatchObject({
      code: 'INVALID_OPTION',
      message: 'candidate knn-huge: k = 10000 needs at least 10000 training rows',
      context: { candidate: 'knn-huge', kind: 'knn' },
    });
  });

  it('rejects with the error of a bad value, a TrainingError when a worker dies, and refuses bad options', async () => {
    const broken = { ...train, rows: train.rows.map((r, i) => (i === 3 ? r.subarray(0, 11) : r)) };
    // A ragged row is refused while packing, before any worker starts.
    await expect(trainCandidatesInWorkers(broken, validation, specs)).rejects.toThrow(InvalidOptionError);
    const nan = { ...train, rows: train.rows.map((r, i) => (i === 3 ? Float64Array.from(r, () => Number.NaN) : r)) };
    const err = await trainCandidatesInWorkers(nan, validation, [specs[0]]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_VALUE', context: { candidate: 'knn-k3' } });
    await expect(trainCandidatesInWorkers(train, validation, specs, { concurrency: 0 })).rejects.toThrow(
      /concurrency must be a positive integer/,
    );
    await expect(trainCandidatesInWorkers(train, validation, specs, { maxHeapMb: -1 })).rejects.toThrow(/maxHeapMb/);
    // A heap far too small for the worker to even load its modules: it dies, the call says which candidate.
    const died = await trainCandidatesInWorkers(train, validation, specs, { concurrency: 2, maxHeapMb: 2 }).catch(
      (e: unknown) => e,
    );
    expect(died).toBeInstanceOf(TrainingError);
    expect(died).toMatchObject({ code: 'TRAINING', context: { kind: expect.any(String) } });
  });

  it('keeps the calling event loop turning while a slow candidate trains', async () => {
    const slow: CandidateSpec[] = [{ name: 'logreg-slow', kind: 'logistic-regression', options: { steps: 3000 } }];
    let ticks = 0;
    let spinning = true;
    const spin = () => {
      ticks++;
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    const [result] = await trainCandidatesInWorkers(train, validation, slow, { concurrency: 1 });
    spinning = false;
    // In process, the training would be one turn of the loop; here the loop turned all along.
    expect(ticks).toBeGreaterThan(100);
    expect(result.metrics.accuracy).toBeGreaterThan(0.5);
  });
});
