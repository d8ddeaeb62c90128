import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ArtifactInvalidError, ConflictError, InvalidValueError, NotFoundError } from '../../errors.ts';
import { sha256 } from '../../model/artifact.ts';
import type {
  ArtifactRef,
  Metric,
  ModelVersion,
  Registry,
  RunInfo,
  RunStatus,
  Tracker,
  TrackingBackend,
} from '../types.ts';
import { readJson, withLock, writeAtomic, writeJson } from './files.ts';

/*
 * Layout (docs/tracking.md):
 *   experiments.json                         name -> { id, name, createdAt }
 *   runs/<runId>/run.json                    RunInfo without metrics
 *   runs/<runId>/metrics.json                every metric value, in logging order
 *   runs/<runId>/artifacts.json              path -> { digest, size }
 *   runs/<runId>/artifacts/<path>            the bytes
 *   models/<name>.json                       { name, createdAt, aliases, versions }
 * Every file is replaced atomically; every read-modify-write holds the store's lock.
 */

interface StoredModel {
  name: string;
  createdAt: number;
  aliases: Record<string, number>;
  versions: Omit<ModelVersion, 'aliases'>[];
}

type StoredRun = Omit<RunInfo, 'metrics'>;

const SAFE_NAME = /^[A-Za-z0-9][\w.-]{0,127}$/;
const SAFE_PATH = /^(?!.*(^|\/)\.\.?(\/|$))[\w./-]{1,512}$/;

function checkName(kind: string, name: string): void {
  if (!SAFE_NAME.test(name))
    throw new InvalidValueError(`${kind} name "${name}" must be 1-128 letters, digits, '.', '_' or '-'`);
}

function checkArtifactPath(p: string): void {
  if (!SAFE_PATH.test(p) || p.startsWith('/'))
    throw new InvalidValueError(
      `artifact path "${p}" must be relative, without '..', of letters, digits, '.', '_', '-', '/'`,
    );
}

/** The tracking/registry port on a local folder: the embedded default. */
export class EmbeddedTrackingStore implements Tracker, Registry, TrackingBackend {
  readonly kind = 'embedded' as const;
  readonly tracker: Tracker = this;
  readonly registry: Registry = this;

  constructor(readonly dir: string) {}

  #run(runId: string): string {
    if (!/^[0-9a-f]{32}$/.test(runId)) throw new NotFoundError(`no run "${runId}"`);
    return path.join(this.dir, 'runs', runId);
  }

  #readRun(runId: string): StoredRun {
    const run = readJson<StoredRun>(path.join(this.#run(runId), 'run.json'));
    if (!run) throw new NotFoundError(`no run "${runId}"`, { context: { runId } });
    return run;
  }

  #metrics(runId: string): Metric[] {
    return readJson<Metric[]>(path.join(this.#run(runId), 'metrics.json')) ?? [];
  }

  #modelFile(name: string): string {
    checkName('model', name);
    return path.join(this.dir, 'models', `${name}.json`);
  }

  #readModel(name: string): StoredModel {
    const model = readJson<StoredModel>(this.#modelFile(name));
    if (!model) throw new NotFoundError(`no registered model "${name}"`, { context: { model: name } });
    return model;
  }

  #lock<T>(action: () => T): Promise<T> {
    return withLock(this.dir, action);
  }

  // Tracker

  async experiment(name: string): Promise<string> {
    checkName('experiment', name);
    return this.#lock(() => {
      const file = path.join(this.dir, 'experiments.json');
      const all = readJson<Record<string, { id: string; name: string; createdAt: number }>>(file) ?? {};
      const found = all[name];
      if (found) return found.id;
      const id = String(Object.keys(all).length + 1);
      all[name] = { id, name, createdAt: Date.now() };
      writeJson(file, all);
      return id;
    });
  }

  async startRun(
    experimentId: string,
    options: { name?: string; tags?: Record<string, string> } = {},
  ): Promise<RunInfo> {
    const runId = randomUUID().replaceAll('-', '');
    const run: StoredRun = {
      runId,
      experimentId,
      name: options.name ?? runId.slice(0, 8),
      status: 'RUNNING',
      startTime: Date.now(),
      endTime: null,
      params: {},
      tags: { ...options.tags },
    };
    await this.#lock(() => writeJson(path.join(this.#run(runId), 'run.json'), run));
    return { ...run, metrics: {} };
  }

  #updateRun(runId: string, change: (run: StoredRun) => void): Promise<void> {
    return this.#lock(() => {
      const run = this.#readRun(runId);
      change(run);
      writeJson(path.join(this.#run(runId), 'run.json'), run);
    });
  }

  logParams(runId: string, params: Record<string, string | number | boolean>): Promise<void> {
    return this.#updateRun(runId, (run) => {
      for (const [k, v] of Object.entries(params)) {
        // Params are immutable, as in MLflow: logging another value under a key is a conflict.
        if (k in run.params && run.params[k] !== String(v))
          throw new ConflictError(`param "${k}" of run ${runId} is "${run.params[k]}"; it cannot become "${v}"`);
        run.params[k] = String(v);
      }
    });
  }

  async logMetrics(
    runId: string,
    metrics: { key: string; value: number; step?: number; timestamp?: number }[],
  ): Promise<void> {
    for (const m of metrics)
      if (!Number.isFinite(m.value))
        throw new InvalidValueError(`metric "${m.key}" is ${m.value}, not a finite number`);
    await this.#lock(() => {
      this.#readRun(runId);
      const all = this.#metrics(runId);
      const now = Date.now();
      for (const m of metrics)
        all.push({ key: m.key, value: m.value, step: m.step ?? 0, timestamp: m.timestamp ?? now });
      writeJson(path.join(this.#run(runId), 'metrics.json'), all);
    });
  }

  setTags(runId: string, tags: Record<string, string>): Promise<void> {
    return this.#updateRun(runId, (run) => Object.assign(run.tags, tags));
  }

  async logArtifact(runId: string, artifactPath: string, bytes: Buffer): Promise<ArtifactRef> {
    checkArtifactPath(artifactPath);
    const ref: ArtifactRef = { path: artifactPath, digest: sha256(bytes), size: bytes.length };
    await this.#lock(() => {
      const dir = this.#run(runId);
      this.#readRun(runId);
      writeAtomic(path.join(dir, 'artifacts', artifactPath), bytes);
      const index = readJson<Record<string, Omit<ArtifactRef, 'path'>>>(path.join(dir, 'artifacts.json')) ?? {};
      index[artifactPath] = { digest: ref.digest, size: ref.size };
      writeJson(path.join(dir, 'artifacts.json'), index);
    });
    return ref;
  }

  async readArtifact(runId: string, artifactPath: string, digest?: string): Promise<Buffer> {
    checkArtifactPath(artifactPath);
    const file = path.join(this.#run(runId), 'artifacts', artifactPath);
    if (!existsSync(file)) throw new NotFoundError(`run ${runId} has no artifact "${artifactPath}"`);
    const bytes = readFileSync(file);
    const actual = sha256(bytes);
    const index = readJson<Record<string, { digest: string }>>(path.join(this.#run(runId), 'artifacts.json')) ?? {};
    const expected = digest ?? index[artifactPath]?.digest;
    if (expected !== undefined && actual !== expected)
      throw new ArtifactInvalidError(
        `artifact "${artifactPath}" of run ${runId} has digest ${actual}, expected ${expected}`,
        {
          context: { runId, path: artifactPath },
        },
      );
    return bytes;
  }

  endRun(runId: string, status: Exclude<RunStatus, 'RUNNING'>): Promise<void> {
    return this.#updateRun(runId, (run) => {
      run.status = status;
      run.endTime = Date.now();
    });
  }

  async getRun(runId: string): Promise<RunInfo> {
    const run = this.#readRun(runId);
    const metrics: Record<string, number> = {};
    // The latest value per key: highest step, then latest timestamp, as MLflow reports it.
    const best = new Map<string, Metric>();
    for (const m of this.#metrics(runId)) {
      const b = best.get(m.key);
      if (!b || m.step > b.step || (m.step === b.step && m.timestamp >= b.timestamp)) best.set(m.key, m);
    }
    for (const [k, m] of best) metrics[k] = m.value;
    return { ...run, metrics };
  }

  async metricHistory(runId: string, key: string): Promise<Metric[]> {
    this.#readRun(runId);
    return this.#metrics(runId)
      .filter((m) => m.key === key)
      .sort((a, b) => a.step - b.step || a.timestamp - b.timestamp);
  }

  async searchRuns(
    experimentId: string,
    options: { tags?: Record<string, string>; maxResults?: number } = {},
  ): Promise<RunInfo[]> {
    const root = path.join(this.dir, 'runs');
    if (!existsSync(root)) return [];
    const out: RunInfo[] = [];
    for (const id of readdirSync(root)) {
      const run = readJson<StoredRun>(path.join(root, id, 'run.json'));
      if (!run || run.experimentId !== experimentId) continue;
      if (Object.entries(options.tags ?? {}).some(([k, v]) => run.tags[k] !== v)) continue;
      out.push(await this.getRun(id));
    }
    out.sort((a, b) => b.startTime - a.startTime);
    return out.slice(0, options.maxResults ?? out.length);
  }

  // Registry

  async ensureModel(name: string): Promise<void> {
    const file = this.#modelFile(name);
    await this.#lock(() => {
      if (!readJson<StoredModel>(file))
        writeJson(file, { name, createdAt: Date.now(), aliases: {}, versions: [] } satisfies StoredModel);
    });
  }

  #withAliases(model: StoredModel, v: Omit<ModelVersion, 'aliases'>): ModelVersion {
    return {
      ...v,
      aliases: Object.entries(model.aliases)
        .filter(([, n]) => n === v.version)
        .map(([a]) => a),
    };
  }

  async createVersion(
    name: string,
    options: { runId: string; artifactPath: string; artifactDigest: string; tags?: Record<string, string> },
  ): Promise<ModelVersion> {
    checkArtifactPath(options.artifactPath);
    return this.#lock(() => {
      const model = this.#readModel(name);
      this.#readRun(options.runId);
      const v: Omit<ModelVersion, 'aliases'> = {
        name,
        version: (model.versions.at(-1)?.version ?? 0) + 1,
        runId: options.runId,
        source: `runs:/${options.runId}/${options.artifactPath}`,
        artifactDigest: options.artifactDigest,
        tags: { ...options.tags },
        createdAt: Date.now(),
      };
      model.versions.push(v);
      writeJson(this.#modelFile(name), model);
      return this.#withAliases(model, v);
    });
  }

  async getVersion(name: string, version: number): Promise<ModelVersion> {
    const model = this.#readModel(name);
    const v = model.versions.find((x) => x.version === version);
    if (!v) throw new NotFoundError(`model "${name}" has no version ${version}`, { context: { model: name, version } });
    return this.#withAliases(model, v);
  }

  async listVersions(name: string, options: { tags?: Record<string, string> } = {}): Promise<ModelVersion[]> {
    const model = this.#readModel(name);
    return model.versions
      .filter((v) => Object.entries(options.tags ?? {}).every(([k, val]) => v.tags[k] === val))
      .map((v) => this.#withAliases(model, v));
  }

  setVersionTags(name: string, version: number, tags: Record<string, string>): Promise<void> {
    return this.#lock(() => {
      const model = this.#readModel(name);
      const v = model.versions.find((x) => x.version === version);
      if (!v) throw new NotFoundError(`model "${name}" has no version ${version}`);
      Object.assign(v.tags, tags);
      writeJson(this.#modelFile(name), model);
    });
  }

  setAlias(name: string, alias: string, version: number): Promise<void> {
    checkName('alias', alias);
    return this.#lock(() => {
      const model = this.#readModel(name);
      if (!model.versions.some((v) => v.version === version))
        throw new NotFoundError(`model "${name}" has no version ${version} to alias "${alias}"`);
      model.aliases[alias] = version;
      writeJson(this.#modelFile(name), model);
    });
  }

  async byAlias(name: string, alias: string): Promise<ModelVersion | null> {
    const model = readJson<StoredModel>(this.#modelFile(name));
    const version = model?.aliases[alias];
    if (!model || version === undefined) return null;
    return this.#withAliases(model, model.versions.find((v) => v.version === version)!);
  }

  deleteAlias(name: string, alias: string): Promise<void> {
    return this.#lock(() => {
      const model = this.#readModel(name);
      delete model.aliases[alias];
      writeJson(this.#modelFile(name), model);
    });
  }

  async readVersionArtifact(version: ModelVersion): Promise<Buffer> {
    const m = /^runs:\/([0-9a-f]{32})\/(.+)$/.exec(version.source);
    if (!m)
      throw new ArtifactInvalidError(
        `version ${version.version} of "${version.name}" has an unknown source ${version.source}`,
      );
    return this.readArtifact(m[1], m[2], version.artifactDigest);
  }

  async close(): Promise<void> {}
}
