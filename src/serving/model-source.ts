import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ArtifactInvalidError, InvalidOptionError, NotFoundError } from '../errors.ts';
import { loadModel } from '../model/artifact.ts';
import { parseTrainedUntil, TRAINED_UNTIL_TAG } from '../model/trained-until.ts';
import type { LoadedModel } from '../model/types.ts';
import type { Registry } from '../tracking/types.ts';

/** A model version by registered name and number. */
export interface ModelRef {
  name: string;
  version: number;
}

/**
 * Where serving and the predictor get a model from. A function, not a class:
 * the registry adapters live behind src/tracking and serving only needs this.
 */
export type ModelSource = (ref: ModelRef) => Promise<LoadedModel>;

/** Loads versions from the registry; the artifact is checked against the version's digest. */
export function registryModelSource(registry: Registry): ModelSource {
  return async ({ name, version }) => {
    const v = await registry.getVersion(name, version);
    const loaded = loadModel(await registry.readVersionArtifact(v), v.artifactDigest);
    const decision = parseJson(v.tags['activity-tracking.decision']) as { gate?: { candidate?: unknown } } | null;
    const estimate = decision?.gate?.candidate;
    return {
      ...loaded,
      registered: {
        runId: v.runId,
        trainedUntil: parseTrainedUntil(v.tags[TRAINED_UNTIL_TAG]),
        gateEstimate: typeof estimate === 'number' ? estimate : null,
      },
    };
  };
}

function parseJson(text: string | undefined): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/**
 * Loads `<dir>/<name>/<version>/model.json`, checked against the `sha256:<hex>`
 * in `<dir>/<name>/<version>/digest` (for `serve --artifact` and tests).
 */
export function directoryModelSource(dir: string): ModelSource {
  return async ({ name, version }) => {
    if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.'))
      throw new InvalidOptionError(`model name "${name}" must be letters, digits, '.', '_' or '-'`);
    const folder = path.join(dir, name, String(version));
    let bytes: Buffer;
    let digest: string;
    try {
      bytes = await readFile(path.join(folder, 'model.json'));
    } catch (cause) {
      throw new NotFoundError(`model ${name} version ${version} not found in ${dir}`, {
        cause,
        context: { name, version },
      });
    }
    try {
      digest = (await readFile(path.join(folder, 'digest'), 'utf8')).trim();
    } catch (cause) {
      // The version is there but cannot be checked: corrupt or half-written, not absent.
      throw new ArtifactInvalidError(
        `model ${name} version ${version} in ${dir} is incomplete: model.json has no digest file (${path.join(folder, 'digest')}) to check it against; write the version again`,
        { cause, context: { name, version } },
      );
    }
    if (!/^sha256:[0-9a-f]{64}$/.test(digest))
      throw new ArtifactInvalidError(
        `model ${name} version ${version} in ${dir} is corrupt: its digest file holds no sha256:<hex> digest`,
        { context: { name, version } },
      );
    return loadModel(bytes, digest);
  };
}

/** Writes an artifact where directoryModelSource reads it. */
export async function writeModelDirectory(dir: string, ref: ModelRef, bytes: Buffer, digest: string): Promise<void> {
  const { mkdir, writeFile } = await import('node:fs/promises');
  const folder = path.join(dir, ref.name, String(ref.version));
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, 'model.json'), bytes);
  await writeFile(path.join(folder, 'digest'), `${digest}\n`);
}
