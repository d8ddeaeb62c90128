import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArtifactInvalidError, InvalidOptionError, NotFoundError } from '../../src/errors.ts';
import { sha256 } from '../../src/model/index.ts';
import { directoryModelSource, registryModelSource } from '../../src/serving/model-source.ts';
import type { ModelVersion, Registry } from '../../src/tracking/types.ts';
import { writeTestModel } from './models.ts';

/** The two Registry calls serving makes, over one stored artifact (the adapters live behind src/tracking). */
function oneVersionRegistry(bytes: Buffer, artifactDigest: string): Registry {
  const version: ModelVersion = {
    name: 'har',
    version: 7,
    runId: 'r',
    source: 'runs:/r/model/model.json',
    artifactDigest,
    tags: {},
    aliases: ['champion'],
    createdAt: 0,
  };
  const unused = () => Promise.reject(new Error('not used by serving'));
  return {
    ensureModel: unused,
    createVersion: unused,
    getVersion: async (name, v) => {
      if (name !== 'har' || v !== 7) throw new NotFoundError(`${name} v${v}`);
      return version;
    },
    listVersions: unused,
    setVersionTags: unused,
    setAlias: unused,
    byAlias: unused,
    deleteAlias: unused,
    readVersionArtifact: async () => bytes,
  };
}

describe('model sources', () => {
  it('loads from the registry and checks the version digest', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'source-'));
    const { bytes, digest } = await writeTestModel(dir, { name: 'har', version: 1 });
    const loaded = await registryModelSource(oneVersionRegistry(bytes, digest))({ name: 'har', version: 7 });
    expect(loaded.digest).toBe(digest);
    expect(loaded.classifier.classes).toEqual(['SITTING', 'WALKING']);
    const tampered = Buffer.from(bytes);
    tampered[10] ^= 1;
    await expect(
      registryModelSource(oneVersionRegistry(tampered, digest))({ name: 'har', version: 7 }),
    ).rejects.toThrow(ArtifactInvalidError);
    expect(sha256(tampered)).not.toBe(digest);
  });

  it('reads a directory, refuses path tricks and reports missing versions', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'source-'));
    const { digest } = await writeTestModel(dir, { name: 'har', version: 2 });
    const source = directoryModelSource(dir);
    expect((await source({ name: 'har', version: 2 })).digest).toBe(digest);
    await expect(source({ name: 'har', version: 3 })).rejects.toThrow(NotFoundError);
    await expect(source({ name: '../har', version: 2 })).rejects.toThrow(InvalidOptionError);
  });

  it('reports a version without its digest file as incomplete, not as missing', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'source-'));
    await writeTestModel(dir, { name: 'har', version: 2 });
    const source = directoryModelSource(dir);
    await rm(path.join(dir, 'har', '2', 'digest'));
    const err = await source({ name: 'har', version: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactInvalidError);
    expect((err as Error).message).toMatch(/is incomplete: model.json has no digest file/);
    await writeFile(path.join(dir, 'har', '2', 'digest'), 'garbage\n');
    await expect(source({ name: 'har', version: 2 })).rejects.toThrow(/is corrupt/);
  });
});
