import { describe, expect, it } from 'vitest';
import { ArtifactInvalidError, NotFoundError } from '../../src/errors.ts';
import { sha256 } from '../../src/model/artifact.ts';
import { CHAMPION, type TrackingBackend } from '../../src/tracking/types.ts';

/** One suite for every adapter of the tracking/registry port (STYLE habit 2). */
export function trackingConformance(name: string, make: () => Promise<TrackingBackend>): void {
  describe(`tracking conformance: ${name}`, () => {
    const unique = () => `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;

    it('keeps experiments, runs, params, metrics with history, tags and status', async () => {
      const { tracker } = await make();
      const exp = await tracker.experiment(unique());
      const name = unique();
      expect(await tracker.experiment(name)).toBe(await tracker.experiment(name));
      const run = await tracker.startRun(exp, { name: 'first', tags: { team: 'a' } });
      expect(run.status).toBe('RUNNING');
      await tracker.logParams(run.runId, { k: 5, kind: 'knn' });
      await tracker.logMetrics(run.runId, [
        { key: 'accuracy', value: 0.5, step: 0 },
        { key: 'accuracy', value: 0.75, step: 1 },
        { key: 'loss', value: 2 },
      ]);
      await tracker.setTags(run.runId, { stage: 'test' });
      await tracker.endRun(run.runId, 'FINISHED');
      const got = await tracker.getRun(run.runId);
      expect(got.status).toBe('FINISHED');
      expect(got.endTime).not.toBeNull();
      expect(got.params).toMatchObject({ k: '5', kind: 'knn' });
      expect(got.metrics).toMatchObject({ accuracy: 0.75, loss: 2 });
      expect(got.tags).toMatchObject({ team: 'a', stage: 'test' });
      const history = await tracker.metricHistory(run.runId, 'accuracy');
      expect(history.map((m) => [m.step, m.value])).toEqual([
        [0, 0.5],
        [1, 0.75],
      ]);
      const other = await tracker.startRun(exp, { tags: { team: 'b' } });
      const found = await tracker.searchRuns(exp, { tags: { team: 'a' } });
      expect(found.map((r) => r.runId)).toEqual([run.runId]);
      expect((await tracker.searchRuns(exp)).map((r) => r.runId).sort()).toEqual([run.runId, other.runId].sort());
      await expect(tracker.getRun('0'.repeat(32))).rejects.toThrow(NotFoundError);
    });

    it('stores artifacts by digest and refuses bytes that do not match', async () => {
      const { tracker } = await make();
      const run = await tracker.startRun(await tracker.experiment(unique()));
      const bytes = Buffer.from(JSON.stringify({ hello: 'world' }));
      const ref = await tracker.logArtifact(run.runId, 'model/model.json', bytes);
      expect(ref).toEqual({ path: 'model/model.json', digest: sha256(bytes), size: bytes.length });
      expect((await tracker.readArtifact(run.runId, 'model/model.json', ref.digest)).equals(bytes)).toBe(true);
      await expect(tracker.readArtifact(run.runId, 'model/model.json', sha256(Buffer.from('other')))).rejects.toThrow(
        ArtifactInvalidError,
      );
      await expect(tracker.readArtifact(run.runId, 'missing.json')).rejects.toThrow(NotFoundError);
      await expect(tracker.logArtifact(run.runId, '../escape.json', bytes)).rejects.toThrow(/artifact path/);
    });

    it('numbers versions 1, 2, 3, filters them by tags, and moves aliases', async () => {
      const { tracker, registry } = await make();
      const model = unique();
      await registry.ensureModel(model);
      await registry.ensureModel(model);
      const run = await tracker.startRun(await tracker.experiment(unique()));
      const bytes = Buffer.from('{"model":1}');
      const ref = await tracker.logArtifact(run.runId, 'model/model.json', bytes);
      const versions = [];
      for (let i = 0; i < 3; i++) {
        versions.push(
          await registry.createVersion(model, {
            runId: run.runId,
            artifactPath: 'model/model.json',
            artifactDigest: ref.digest,
            tags: { 'trigger-key': `key-${i}` },
          }),
        );
      }
      expect(versions.map((v) => v.version)).toEqual([1, 2, 3]);
      expect((await registry.listVersions(model, { tags: { 'trigger-key': 'key-1' } })).map((v) => v.version)).toEqual([
        2,
      ]);
      expect(await registry.byAlias(model, CHAMPION)).toBeNull();
      await registry.setAlias(model, CHAMPION, 1);
      await registry.setAlias(model, CHAMPION, 2);
      const champion = await registry.byAlias(model, CHAMPION);
      expect(champion?.version).toBe(2);
      expect(champion?.aliases).toEqual([CHAMPION]);
      expect((await registry.getVersion(model, 1)).aliases).toEqual([]);
      await registry.setVersionTags(model, 3, { decision: 'rejected' });
      expect((await registry.getVersion(model, 3)).tags).toMatchObject({
        'trigger-key': 'key-2',
        decision: 'rejected',
      });
      expect((await registry.readVersionArtifact(champion!)).equals(bytes)).toBe(true);
      await expect(
        registry.readVersionArtifact({ ...champion!, artifactDigest: sha256(Buffer.from('x')) }),
      ).rejects.toThrow(ArtifactInvalidError);
      await registry.deleteAlias(model, CHAMPION);
      expect(await registry.byAlias(model, CHAMPION)).toBeNull();
      await expect(registry.getVersion(model, 9)).rejects.toThrow(NotFoundError);
    });
  });
}
