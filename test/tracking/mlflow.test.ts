import { describe, expect, it } from 'vitest';
import { MlflowTrackingStore } from '../../src/tracking/mlflow/store.ts';
import { CHAMPION } from '../../src/tracking/types.ts';
import { requireMlflow } from '../setup/services.ts';
import { trackingConformance } from './conformance.ts';

trackingConformance('mlflow', async () => new MlflowTrackingStore({ uri: await requireMlflow() }));

describe('MLflow backend seen through MLflow itself', () => {
  it('what the port writes is readable through MLflow REST API as MLflow objects', async () => {
    const uri = await requireMlflow();
    const store = new MlflowTrackingStore({ uri });
    const name = `m${Date.now().toString(36)}`;
    const exp = await store.experiment(name);
    const run = await store.startRun(exp, { name: 'retrain', tags: { k: 'v' } });
    await store.logParams(run.runId, { candidate: 'svm-linear' });
    await store.logMetrics(run.runId, [{ key: 'accuracy', value: 0.9, step: 3 }]);
    const ref = await store.logArtifact(run.runId, 'model/model.json', Buffer.from('{"a":1}'));
    await store.endRun(run.runId, 'FINISHED');
    await store.ensureModel(name);
    const v = await store.createVersion(name, { runId: run.runId, artifactPath: ref.path, artifactDigest: ref.digest });
    await store.setAlias(name, CHAMPION, v.version);

    // biome-ignore lint/suspicious/noExplicitAny: MLflow's own JSON, read as it comes
    const get = async (path: string): Promise<any> => (await fetch(`${uri}/api/2.0/mlflow/${path}`)).json();
    const r = await get(`runs/get?run_id=${run.runId}`);
    expect(r.run.info.status).toBe('FINISHED');
    expect(r.run.data.params).toEqual([{ key: 'candidate', value: 'svm-linear' }]);
    expect(r.run.data.metrics[0]).toMatchObject({ key: 'accuracy', value: 0.9, step: 3 });
    const art = await fetch(`${uri}/api/2.0/mlflow/artifacts/list?run_id=${run.runId}&path=model`);
    expect(((await art.json()) as { files: { path: string }[] }).files.map((f) => f.path)).toEqual([
      'model/model.json',
    ]);
    const alias = await get(`registered-models/alias?name=${name}&alias=${CHAMPION}`);
    expect(alias.model_version.version).toBe(String(v.version));
    expect(alias.model_version.run_id).toBe(run.runId);
  });

  it('retries a server that is not there yet, then fails with a clear, retriable error', async () => {
    const store = new MlflowTrackingStore({ uri: 'http://127.0.0.1:9', timeoutMs: 500 });
    await expect(store.experiment('x')).rejects.toMatchObject({ code: 'TRACKING', retriable: true });
  });
});
