import { createHash } from 'node:crypto';
import { ArtifactInvalidError } from '../errors.ts';
import { ForestClassifier } from './forest.ts';
import { KnnClassifier } from './knn.ts';
import { LogisticClassifier } from './logistic.ts';
import { SvmClassifier } from './svm.ts';
import { type Classifier, type LoadedModel, MODEL_FORMAT, type ModelDocument } from './types.ts';

type Loader = (doc: ModelDocument) => Classifier;

/**
 * The kinds an artifact may name, each with its loader. An artifact is JSON
 * data read by these loaders: nothing in it is ever evaluated or required.
 */
const LOADERS = new Map<string, Loader>([
  ['knn', (doc) => KnnClassifier.fromState(doc)],
  ['logistic-regression', (doc) => LogisticClassifier.fromState(doc)],
  ['svm', (doc) => SvmClassifier.fromState(doc)],
  ['random-forest', (doc) => ForestClassifier.fromState(doc)],
]);

/** Registers the loader of a model kind (each candidate module calls this once). */
export function registerModelKind(kind: string, loader: Loader): void {
  LOADERS.set(kind, loader);
}

/**
 * The input width of a loaded model: its standardizer's (k-NN, logistic regression, SVM) or the state's
 * `dimensions` (random forest). Undefined for a registered kind that exposes neither.
 */
function dimensionsOf(classifier: Classifier, doc: ModelDocument): number | undefined {
  const standardizer = (classifier as { standardizer?: { dimensions?: unknown } }).standardizer;
  if (typeof standardizer?.dimensions === 'number') return standardizer.dimensions;
  const d = (doc.state as { dimensions?: unknown } | null)?.dimensions;
  return typeof d === 'number' ? d : undefined;
}

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** The artifact bytes (canonical JSON, keys in a fixed order) and their digest. */
export function serializeModel(model: Classifier, featureNames: readonly string[]): { bytes: Buffer; digest: string } {
  const doc: ModelDocument = {
    format: MODEL_FORMAT,
    kind: model.kind,
    featureSet: model.featureSet,
    featureNames: [...featureNames],
    classes: [...model.classes],
    params: { ...model.params },
    state: model.toState(),
  };
  const bytes = Buffer.from(JSON.stringify(doc));
  return { bytes, digest: sha256(bytes) };
}

/**
 * Loads an artifact. With `expectedDigest` (always, when it comes from the
 * registry) bytes that do not match are refused before they are parsed.
 */
export function loadModel(bytes: Buffer, expectedDigest?: string): LoadedModel {
  const digest = sha256(bytes);
  if (expectedDigest !== undefined && digest !== expectedDigest)
    throw new ArtifactInvalidError(`model artifact digest ${digest} does not match the expected ${expectedDigest}`, {
      context: { digest, expectedDigest },
    });
  let doc: ModelDocument;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as ModelDocument;
  } catch (cause) {
    throw new ArtifactInvalidError('model artifact is not JSON', { cause });
  }
  if (doc === null || typeof doc !== 'object' || doc.format !== MODEL_FORMAT)
    throw new ArtifactInvalidError(`model artifact format must be ${MODEL_FORMAT}`);
  if (typeof doc.featureSet !== 'string' || !Array.isArray(doc.classes) || doc.classes.length < 2)
    throw new ArtifactInvalidError('model artifact lacks featureSet or classes');
  if (
    !Array.isArray(doc.featureNames) ||
    !doc.featureNames.every((n) => typeof n === 'string') ||
    typeof doc.params !== 'object' ||
    doc.params === null
  )
    throw new ArtifactInvalidError('model artifact lacks featureNames (strings) or params');
  const loader = LOADERS.get(doc.kind);
  if (!loader) throw new ArtifactInvalidError(`unknown model kind "${doc.kind}"`, { context: { kind: doc.kind } });
  const classifier = loader(doc);
  // A loader reads the classes and feature set from `doc`; a model whose state disagrees is refused here.
  if (classifier.classes.length !== doc.classes.length)
    throw new ArtifactInvalidError('model artifact classes do not match its state');
  // Vectors are matched to the model by these names: a list of another length would feed it misaligned rows.
  const dimensions = dimensionsOf(classifier, doc);
  if (dimensions !== undefined && dimensions !== doc.featureNames.length)
    throw new ArtifactInvalidError(
      `model artifact names ${doc.featureNames.length} features but its model takes ${dimensions}`,
      { context: { featureNames: doc.featureNames.length, dimensions } },
    );
  return { classifier, digest };
}
