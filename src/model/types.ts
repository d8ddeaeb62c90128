/**
 * What a trained model is, to everything outside `src/model/`: a classifier over
 * one feature set that gives class probabilities, and a serialized artifact that
 * is data (canonical JSON), never code, identified by its SHA-256 digest.
 *
 * Pure layer: nothing here imports a transport, HTTP or an Azure SDK.
 */

/** The artifact format this version of the code writes and reads. */
export const MODEL_FORMAT = 'activity-tracking-model/v1';

export interface Classifier {
  /** The candidate kind: `knn`, `logistic-regression`, `random-forest`, ... */
  readonly kind: string;
  /** Class names; probabilities come in this order. */
  readonly classes: readonly string[];
  /** The featurizer's FEATURE_SET the model was trained on; vectors of another set are refused. */
  readonly featureSet: string;
  /** Hyper-parameters, as logged with the run. */
  readonly params: Readonly<Record<string, string | number | boolean>>;
  /** Probabilities per row (each sums to 1), classes in `classes` order. */
  predictProba(rows: readonly (readonly number[] | Float64Array)[]): number[][];
  /** The serializable state the artifact stores (plain JSON: numbers, strings, arrays, objects). */
  toState(): unknown;
}

/** The artifact's JSON document. `state` is kind-specific and validated by the kind's loader. */
export interface ModelDocument {
  format: typeof MODEL_FORMAT;
  kind: string;
  featureSet: string;
  featureNames: string[];
  classes: string[];
  params: Record<string, string | number | boolean>;
  state: unknown;
}

/** A model together with the digest of the artifact it was loaded from (or serialized to). */
export interface LoadedModel {
  classifier: Classifier;
  /** `sha256:<hex>` of the artifact bytes. */
  digest: string;
  /** What the registry knows of the version, when it came from one. */
  registered?: {
    runId: string;
    /** Per device, the last sample it trained on (src/model/trained-until.ts); null when not recorded. */
    trainedUntil: Readonly<Record<string, number>> | null;
    /** The gate's estimate of its accuracy, when it was gated. */
    gateEstimate: number | null;
  };
}

/** Labelled rows: the training or validation set, in a fixed order. */
export interface Dataset {
  featureSet: string;
  featureNames: readonly string[];
  rows: Float64Array[];
  labels: string[];
}
