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
import { MlflowHttp, type MlflowHttpOptions } from './http.ts';

interface KV {
  key: string;
  value: string;
}
interface MlflowRun {
  info: {
    run_id: string;
    experiment_id: string;
    run_name?: string;
    status: RunStatus;
    start_time: number | string;
    end_time?: number | string;
    artifact_uri: string;
  };
  data: { metrics?: (Metric & { step?: number | string; timestamp: number | string })[]; params?: KV[]; tags?: KV[] };
}
interface MlflowVersion {
  name: string;
  version: string;
  source: string;
  run_id: string;
  creation_timestamp: number | string;
  tags?: KV[];
  aliases?: string[];
}

/** The version tag that carries the artifact's digest (MLflow has no field for it). */
const DIGEST_TAG = 'activity-tracking.artifact-digest';
const toRecord = (kvs: KV[] | undefined) => Object.fromEntries((kvs ?? []).map((t) => [t.key, t.value]));
const toKV = (r: Record<string, string | number | boolean>) =>
  Object.entries(r).map(([key, value]) => ({ key, value: String(value) }));

/**
 * The tracking/registry port on an MLflow tracking server, through its REST
 * API (docs/tracking.md): runs, params, metrics with steps, tags and status
 * are MLflow's own; artifacts go through the server's artifact proxy
 * (`mlflow server --serve-artifacts`); versions are MLflow model versions with
 * the artifact digest as a tag; `champion` is an MLflow alias. A user opening
 * the MLflow UI sees all of it.
 */
export class MlflowTrackingStore implements Tracker, Registry, TrackingBackend {
  readonly kind = 'mlflow' as const;
  readonly tracker: Tracker = this;
  readonly registry: Registry = this;
  readonly #http: MlflowHttp;

  constructor(options: MlflowHttpOptions) {
    this.#http = new MlflowHttp(options);
  }

  // Tracker

  async experiment(name: string): Promise<string> {
    try {
      const r = await this.#http.api<{ experiment: { experiment_id: string } }>('GET', 'experiments/get-by-name', {
        experiment_name: name,
      });
      return r.experiment.experiment_id;
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    try {
      return (await this.#http.api<{ experiment_id: string }>('POST', 'experiments/create', { name })).experiment_id;
    } catch (err) {
      // Created by another process meanwhile.
      if (err instanceof ConflictError) return this.experiment(name);
      throw err;
    }
  }

  async startRun(
    experimentId: string,
    options: { name?: string; tags?: Record<string, string> } = {},
  ): Promise<RunInfo> {
    const r = await this.#http.api<{ run: MlflowRun }>('POST', 'runs/create', {
      experiment_id: experimentId,
      start_time: Date.now(),
      ...(options.name ? { run_name: options.name } : {}),
      tags: toKV(options.tags ?? {}),
    });
    return this.#runInfo(r.run);
  }

  async logParams(runId: string, params: Record<string, string | number | boolean>): Promise<void> {
    await this.#http.api('POST', 'runs/log-batch', { run_id: runId, params: toKV(params) });
  }

  async logMetrics(
    runId: string,
    metrics: { key: string; value: number; step?: number; timestamp?: number }[],
  ): Promise<void> {
    for (const m of metrics)
      if (!Number.isFinite(m.value))
        throw new InvalidValueError(`metric "${m.key}" is ${m.value}, not a finite number`);
    const now = Date.now();
    // log-batch takes at most 1000 metrics per call.
    for (let i = 0; i < metrics.length; i += 1000) {
      await this.#http.api('POST', 'runs/log-batch', {
        run_id: runId,
        metrics: metrics
          .slice(i, i + 1000)
          .map((m) => ({ key: m.key, value: m.value, step: m.step ?? 0, timestamp: m.timestamp ?? now })),
      });
    }
  }

  async setTags(runId: string, tags: Record<string, string>): Promise<void> {
    await this.#http.api('POST', 'runs/log-batch', { run_id: runId, tags: toKV(tags) });
  }

  async #artifactPath(runId: string, path: string): Promise<string> {
    if (!/^[\w.-]+(\/[\w.-]+)*$/.test(path) || path.split('/').some((p) => p === '..' || p === '.'))
      throw new InvalidValueError(`artifact path "${path}" must be relative, without '..'`);
    const { info } = (await this.#http.api<{ run: MlflowRun }>('GET', 'runs/get', { run_id: runId })).run;
    const m = /^mlflow-artifacts:\/(.*)$/.exec(info.artifact_uri);
    if (!m)
      throw new InvalidValueError(
        `run ${runId} stores artifacts at ${info.artifact_uri}; start the server with --serve-artifacts so they go through its proxy`,
      );
    return `${m[1].replace(/^\/+/, '')}/${path}`;
  }

  async logArtifact(runId: string, path: string, bytes: Buffer): Promise<ArtifactRef> {
    await this.#http.putArtifact(await this.#artifactPath(runId, path), bytes);
    return { path, digest: sha256(bytes), size: bytes.length };
  }

  async readArtifact(runId: string, path: string, digest?: string): Promise<Buffer> {
    const at = await this.#artifactPath(runId, path);
    let bytes: Buffer;
    try {
      bytes = await this.#http.getArtifact(at);
    } catch (err) {
      // The artifact proxy answers a missing file with 500 and the OS error.
      if (/No such file or directory/.test((err as Error).message))
        throw new NotFoundError(`run ${runId} has no artifact "${path}"`, { cause: err });
      throw err;
    }
    if (digest !== undefined && sha256(bytes) !== digest)
      throw new ArtifactInvalidError(
        `artifact "${path}" of run ${runId} has digest ${sha256(bytes)}, expected ${digest}`,
      );
    return bytes;
  }

  async endRun(runId: string, status: Exclude<RunStatus, 'RUNNING'>): Promise<void> {
    await this.#http.api('POST', 'runs/update', { run_id: runId, status, end_time: Date.now() });
  }

  async getRun(runId: string): Promise<RunInfo> {
    return this.#runInfo((await this.#http.api<{ run: MlflowRun }>('GET', 'runs/get', { run_id: runId })).run);
  }

  async metricHistory(runId: string, key: string): Promise<Metric[]> {
    const r = await this.#http.api<{ metrics?: MlflowRun['data']['metrics'] }>('GET', 'metrics/get-history', {
      run_id: runId,
      metric_key: key,
      // Without max_results MLflow 3 answers an empty first page.
      max_results: 25000,
    });
    return (r.metrics ?? [])
      .map((m) => ({ key: m.key, value: Number(m.value), step: Number(m.step ?? 0), timestamp: Number(m.timestamp) }))
      .sort((a, b) => a.step - b.step || a.timestamp - b.timestamp);
  }

  async searchRuns(
    experimentId: string,
    options: { tags?: Record<string, string>; maxResults?: number } = {},
  ): Promise<RunInfo[]> {
    const filter = Object.entries(options.tags ?? {})
      .map(([k, v]) => `tags.\`${k}\` = '${v.replaceAll("'", "\\'")}'`)
      .join(' and ');
    const r = await this.#http.api<{ runs?: MlflowRun[] }>('POST', 'runs/search', {
      experiment_ids: [experimentId],
      ...(filter ? { filter } : {}),
      max_results: options.maxResults ?? 1000,
      order_by: ['attributes.start_time DESC'],
    });
    return (r.runs ?? []).map((run) => this.#runInfo(run));
  }

  #runInfo(run: MlflowRun): RunInfo {
    const metrics: Record<string, number> = {};
    for (const m of run.data.metrics ?? []) metrics[m.key] = Number(m.value);
    const tags = toRecord(run.data.tags);
    return {
      runId: run.info.run_id,
      experimentId: run.info.experiment_id,
      name: run.info.run_name ?? tags['mlflow.runName'] ?? '',
      status: run.info.status,
      startTime: Number(run.info.start_time),
      endTime: run.info.end_time ? Number(run.info.end_time) : null,
      params: toRecord(run.data.params),
      metrics,
      tags,
    };
  }

  // Registry

  async ensureModel(name: string): Promise<void> {
    try {
      await this.#http.api('POST', 'registered-models/create', { name });
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }

  async createVersion(
    name: string,
    options: { runId: string; artifactPath: string; artifactDigest: string; tags?: Record<string, string> },
  ): Promise<ModelVersion> {
    const r = await this.#http.api<{ model_version: MlflowVersion }>('POST', 'model-versions/create', {
      name,
      source: `runs:/${options.runId}/${options.artifactPath}`,
      run_id: options.runId,
      tags: toKV({ ...options.tags, [DIGEST_TAG]: options.artifactDigest }),
    });
    return this.#version(r.model_version);
  }

  async getVersion(name: string, version: number): Promise<ModelVersion> {
    const r = await this.#http.api<{ model_version: MlflowVersion }>('GET', 'model-versions/get', { name, version });
    return this.#version(r.model_version);
  }

  async listVersions(name: string, options: { tags?: Record<string, string> } = {}): Promise<ModelVersion[]> {
    const out: ModelVersion[] = [];
    let token: string | undefined;
    do {
      const r = await this.#http.api<{ model_versions?: MlflowVersion[]; next_page_token?: string }>(
        'GET',
        'model-versions/search',
        {
          filter: `name='${name.replaceAll("'", "\\'")}'`,
          max_results: 1000,
          ...(token ? { page_token: token } : {}),
        },
      );
      // The search answer may leave out aliases; each version is read whole.
      for (const v of r.model_versions ?? []) out.push(await this.getVersion(name, Number(v.version)));
      token = r.next_page_token || undefined;
    } while (token);
    return out
      .filter((v) => Object.entries(options.tags ?? {}).every(([k, val]) => v.tags[k] === val))
      .sort((a, b) => a.version - b.version);
  }

  async setVersionTags(name: string, version: number, tags: Record<string, string>): Promise<void> {
    for (const [key, value] of Object.entries(tags))
      await this.#http.api('POST', 'model-versions/set-tag', { name, version: String(version), key, value });
  }

  async setAlias(name: string, alias: string, version: number): Promise<void> {
    await this.#http.api('POST', 'registered-models/alias', { name, alias, version: String(version) });
  }

  async byAlias(name: string, alias: string): Promise<ModelVersion | null> {
    try {
      const r = await this.#http.api<{ model_version: MlflowVersion }>('GET', 'registered-models/alias', {
        name,
        alias,
      });
      return this.#version(r.model_version);
    } catch (err) {
      if (err instanceof NotFoundError) return null;
      // Older servers answer INVALID_PARAMETER_VALUE for an alias that is not set.
      if ((err as { context?: { code?: string } }).context?.code === 'INVALID_PARAMETER_VALUE') return null;
      throw err;
    }
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.#http.api('DELETE', 'registered-models/alias', { name, alias });
  }

  async readVersionArtifact(version: ModelVersion): Promise<Buffer> {
    const m = /^runs:\/([0-9a-f]+)\/(.+)$/.exec(version.source);
    if (!m)
      throw new ArtifactInvalidError(
        `version ${version.version} of "${version.name}" has an unknown source ${version.source}`,
      );
    return this.readArtifact(m[1], m[2], version.artifactDigest);
  }

  #version(v: MlflowVersion): ModelVersion {
    const tags = toRecord(v.tags);
    const digest = tags[DIGEST_TAG] ?? '';
    delete tags[DIGEST_TAG];
    return {
      name: v.name,
      version: Number(v.version),
      runId: v.run_id,
      source: v.source,
      artifactDigest: digest,
      tags,
      aliases: v.aliases ?? [],
      createdAt: Number(v.creation_timestamp),
    };
  }

  async close(): Promise<void> {}
}
