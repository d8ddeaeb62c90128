import { describe, expect, it } from 'vitest';
import { PredictorProcessor } from '../../consumers/predictor/processor.ts';
import { FEATURE_NAMES, FEATURE_SET } from '../../src/features/index.ts';
import { KnnClassifier } from '../../src/model/knn.ts';
import { decodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import { ModelHandle } from '../../src/serving/model-handle.ts';
import type { OutgoingRecord } from '../../src/transport/types.ts';
import { consumedVector } from '../support/features.ts';

/** A model trained on har-v2 vectors must not score har-v3 ones: the names are the same, the values are not. */
describe('predictor and feature sets', () => {
  const vector = (featureSet: string, offset: number) =>
    consumedVector(featureSet, offset, { values: [0, ...FEATURE_NAMES.slice(1).map((_, k) => (k % 7) / 10)] });

  it('dead-letters vectors of a feature set its model was not trained on', async () => {
    const rows = [0, 1, 2, 3].map((i) => Float64Array.from(FEATURE_NAMES, (_, k) => ((i + k) % 5) / 4));
    const older = KnnClassifier.train(
      {
        featureSet: 'har-v2-218',
        featureNames: FEATURE_NAMES,
        rows,
        labels: ['SITTING', 'WALKING', 'SITTING', 'WALKING'],
      },
      { k: 1 },
    );
    const handle = new ModelHandle(async () => ({ classifier: older, digest: 'sha256:test' }));
    await handle.switchTo({ name: 'm', version: 1 });
    const p = new PredictorProcessor({ handle });
    const out = (await p.process({
      topic: 'features',
      partition: 0,
      records: [vector(FEATURE_SET, 0), vector('har-v2-218', 1)],
      highWatermark: 2,
    })) as OutgoingRecord[];
    const types = out.map((o) => o.headers!.ce_type);
    expect(types).toEqual([EVENT_TYPES.deadLetter, EVENT_TYPES.prediction]);
    const letter = decodeEvent(out[0].headers!, out[0].value, { accept: [EVENT_TYPES.deadLetter] }).data;
    expect(letter.reason).toBe('unknown-feature-set');
    expect(letter.message).toContain(`"${FEATURE_SET}" is not har-v2-218, the model's`);
  });
});
