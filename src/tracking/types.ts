/**
 * The tracking and registry port (STYLE.md habit 2): experiments, runs
 * (params, metrics with steps, tags, status, artifacts), registered models,
 * versions and aliases. Two adapters: the embedded store (a project data
 * folder, the default) and an MLflow server over its REST API. One conformance
 * suite runs against both. Code above this port never speaks HTTP to MLflow.
 *
 * Names follow MLflow so that its UI shows what we logged: run status
 * RUNNING/FINISHED/FAILED/KILLED, version aliases such as `champion`.
 */

export type RunStatus = 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED';

export interface Metric {
  key: string;
  value: number;
  step: number;
  /** Epoch ms. */
  timestamp: number;
}

export interface RunInfo {
  runId: string;
  experimentId: string;
  name: string;
  status: RunStatus;
  /** Epoch ms. */
  startTime: number;
  endTime: number | null;
  params: Record<string, string>;
  /** The latest value of each metric. */
  metrics: Record<string, number>;
  tags: Record<string, string>;
}

export interface ArtifactRef {
  /** Path inside the run's artifacts, e.g. `model/model.json`. */
  path: string;
  /** `sha256:<hex>` of the bytes. */
  digest: string;
  size: number;
}

export interface ModelVersion {
  name: string;
  version: number;
  runId: string;
  /** Where the artifact is: `runs:/<runId>/<path>` style, adapter-defined. */
  source: string;
  /** `sha256:<hex>` of the model artifact; checked on every load. */
  artifactDigest: string;
  tags: Record<string, string>;
  aliases: string[];
  /** Epoch ms. */
  createdAt: number;
}

export interface Tracker {
  /** The experiment's id, creating it the first time. */
  experiment(name: string): Promise<string>;
  startRun(experimentId: string, options?: { name?: string; tags?: Record<string, string> }): Promise<RunInfo>;
  logParams(runId: string, params: Record<string, string | number | boolean>): Promise<void>;
  logMetrics(
    runId: string,
    metrics: { key: string; value: number; step?: number; timestamp?: number }[],
  ): Promise<void>;
  setTags(runId: string, tags: Record<string, string>): Promise<void>;
  logArtifact(runId: string, path: string, bytes: Buffer): Promise<ArtifactRef>;
  /** The artifact's bytes; when `digest` is given, refuses bytes that do not match it (ArtifactInvalidError). */
  readArtifact(runId: string, path: string, digest?: string): Promise<Buffer>;
  endRun(runId: string, status: Exclude<RunStatus, 'RUNNING'>): Promise<void>;
  getRun(runId: string): Promise<RunInfo>;
  /** Every value a metric took, in step order. */
  metricHistory(runId: string, key: string): Promise<Metric[]>;
  /** Runs of an experiment, newest first; `tags` keeps runs carrying all the given tag values. */
  searchRuns(
    experimentId: string,
    options?: { tags?: Record<string, string>; maxResults?: number },
  ): Promise<RunInfo[]>;
}

export interface Registry {
  /** Creates the registered model if it does not exist yet. */
  ensureModel(name: string): Promise<void>;
  /** Registers the artifact of a run as the next version. */
  createVersion(
    name: string,
    options: { runId: string; artifactPath: string; artifactDigest: string; tags?: Record<string, string> },
  ): Promise<ModelVersion>;
  getVersion(name: string, version: number): Promise<ModelVersion>;
  /** Versions of a model, oldest first; `tags` keeps versions carrying all the given tag values. */
  listVersions(name: string, options?: { tags?: Record<string, string> }): Promise<ModelVersion[]>;
  setVersionTags(name: string, version: number, tags: Record<string, string>): Promise<void>;
  /** Points the alias at the version (moving it from another version). */
  setAlias(name: string, alias: string, version: number): Promise<void>;
  /** The version the alias points at, or null. */
  byAlias(name: string, alias: string): Promise<ModelVersion | null>;
  deleteAlias(name: string, alias: string): Promise<void>;
  /** The version's artifact bytes, checked against its artifactDigest. */
  readVersionArtifact(version: ModelVersion): Promise<Buffer>;
}

/** What the retrainer, the deployer and the serving process are given. */
export interface TrackingBackend {
  readonly kind: 'embedded' | 'mlflow';
  readonly tracker: Tracker;
  readonly registry: Registry;
  close(): Promise<void>;
}

/** The alias of the version in production. */
export const CHAMPION = 'champion';
