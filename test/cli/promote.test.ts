import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/exit.ts';
import { promoteVersion } from '../../src/cli/promote.ts';
import { TOPICS, topicSpecs } from '../../src/topics.ts';
import { EmbeddedTrackingStore } from '../../src/tracking/embedded/store.ts';
import { CHAMPION } from '../../src/tracking/types.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import { runCli } from '../support/cli.ts';

/** A registry with versions 1..n of model "m", version 1 the champion. */
async function registryWith(n: number) {
  const dir = mkdtempSync(path.join(tmpdir(), 'promote-'));
  const store = new EmbeddedTrackingStore(dir);
  await store.ensureModel('m');
  const { runId } = await store.startRun(await store.experiment('e'));
  const ref = await store.logArtifact(runId, 'model.json', Buffer.from('{}'));
  for (let i = 0; i < n; i++)
    await store.createVersion('m', { runId, artifactPath: 'model.json', artifactDigest: ref.digest });
  await store.setAlias('m', CHAMPION, 1);
  return { dir, store };
}

const champion = async (store: EmbeddedTrackingStore) => (await store.byAlias('m', CHAMPION))?.version ?? null;

describe('promote', () => {
  it('moves the champion and publishes the promoted event', async () => {
    const { store } = await registryWith(2);
    const log = new EmbeddedLog();
    await log.ensureTopics(topicSpecs(1));
    const result = await promoteVersion(store, log, { model: 'm', version: 2 });
    expect(result.previous?.version).toBe(1);
    expect(await champion(store)).toBe(2);
    const [end] = await log.endOffsets(TOPICS.modelEvents);
    const [event] = await log.readRange(TOPICS.modelEvents, 0, 0, end - 1);
    expect(JSON.parse(event.value.toString())).toMatchObject({ event: 'promoted', model: 'm', version: 2 });
    await log.close();
  });

  it('puts the champion back when the event cannot be published', async () => {
    const { store } = await registryWith(2);
    const log = new EmbeddedLog(); // no topics: the publish fails after the alias moved
    await expect(promoteVersion(store, log, { model: 'm', version: 2 })).rejects.toMatchObject({ code: 'TRANSPORT' });
    expect(await champion(store)).toBe(1);
    await log.close();
  });

  it('removes the champion alias again when there was none before', async () => {
    const { store } = await registryWith(2);
    await store.deleteAlias('m', CHAMPION);
    const log = new EmbeddedLog();
    await expect(promoteVersion(store, log, { model: 'm', version: 2 })).rejects.toMatchObject({ code: 'TRANSPORT' });
    expect(await champion(store)).toBeNull();
    await log.close();
  });

  it('on an unreachable broker exits 69 and leaves the champion where it was', { timeout: 60_000 }, async () => {
    const { dir, store } = await registryWith(2);
    const r = await runCli(['--transport', 'kafka', 'promote', '--model', 'm', '--version', '2'], {
      TRACKING_DIR: dir,
      KAFKA_BROKERS: '127.0.0.1:1',
      KAFKA_RETRIES: '0',
    });
    expect(r.code, r.stderr).toBe(EXIT.unavailable);
    expect(r.stderr).toMatch(/^error \[SERVICE_UNAVAILABLE\]: Kafka brokers 127\.0\.0\.1:1 are not reachable/m);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(await champion(store)).toBe(1);
  });

  it('on the embedded log is refused (no deployer could hear it), champion unchanged', {
    timeout: 60_000,
  }, async () => {
    const { dir, store } = await registryWith(2);
    const r = await runCli(['promote', '--model', 'm', '--version', '2'], { TRACKING_DIR: dir });
    expect(r.code, r.stderr).toBe(EXIT.config);
    expect(r.stderr).toMatch(/embedded log lives only inside this process/);
    expect(await champion(store)).toBe(1);
  });
});
