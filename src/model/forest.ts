import { RandomForestClassifier } from 'ml-random-forest';
import { ArtifactInvalidError, InvalidOptionError } from '../errors.ts';
import { decodeFloats, encodeFloats } from './encoding.ts';
import type { Classifier, Dataset, ModelDocument } from './types.ts';

export interface ForestOptions {
  /** Trees. @defaultValue 20 */
  trees?: number;
  /** Share of the features each tree sees (ml-random-forest bags features per tree, not per split). @defaultValue 0.1 */
  maxFeatures?: number;
  /** Depth limit of each tree: ml-cart's split search is slow on deep trees. @defaultValue 8 */
  maxDepth?: number;
  /** Seed of the sample and feature bagging. @defaultValue 1 */
  seed?: number;
}

/** One tree in preorder: `column[i]` is −1 at a leaf; thresholds and leaf distributions travel as base64. */
interface TreeState {
  features: number[];
  column: number[];
  threshold: string;
  leafWidth: number[];
  leaves: string;
}

interface CartNode {
  splitColumn?: number;
  splitValue?: number;
  left?: CartNode;
  right?: CartNode;
  distribution?: { to1DArray(): number[] } | number[][];
}

const MAX_DEPTH_LIMIT = 64;

/**
 * Random forest through ml-random-forest (ml-cart trees, bagged samples, each
 * tree on a random subset of the features). Probabilities are the trees' vote
 * shares. No standardization: trees split on thresholds and do not care.
 */
export class ForestClassifier implements Classifier {
  readonly kind = 'random-forest';
  readonly params: Readonly<Record<string, number>>;
  readonly #rf: RandomForestClassifier;
  readonly #dimensions: number;

  private constructor(
    readonly featureSet: string,
    readonly classes: readonly string[],
    rf: RandomForestClassifier,
    dimensions: number,
    params: Required<ForestOptions>,
  ) {
    this.params = params;
    this.#rf = rf;
    this.#dimensions = dimensions;
  }

  static train(data: Dataset, options: ForestOptions = {}): ForestClassifier {
    const params = { trees: 20, maxFeatures: 0.1, maxDepth: 8, seed: 1, ...options };
    if (!Number.isInteger(params.trees) || params.trees < 1)
      throw new InvalidOptionError('trees must be a positive integer');
    if (!(params.maxFeatures > 0 && params.maxFeatures <= 1))
      throw new InvalidOptionError('maxFeatures must be in (0, 1]');
    if (!Number.isInteger(params.maxDepth) || params.maxDepth < 1 || params.maxDepth > MAX_DEPTH_LIMIT)
      throw new InvalidOptionError(`maxDepth must be an integer in 1..${MAX_DEPTH_LIMIT}`);
    if (!Number.isInteger(params.seed)) throw new InvalidOptionError('seed must be an integer');
    const classes = [...new Set(data.labels)].sort();
    if (classes.length < 2) throw new InvalidOptionError('a forest needs at least two classes');
    const index = new Map(classes.map((c, i) => [c, i]));
    const d = data.featureNames.length;
    // A share that rounds to no feature would make ml-random-forest bag none.
    const maxFeatures = Math.max(params.maxFeatures, 1 / d);
    const rf = new RandomForestClassifier({
      nEstimators: params.trees,
      maxFeatures: maxFeatures === 1 ? d : maxFeatures,
      replacement: false,
      seed: params.seed,
      noOOB: true,
      useSampleBagging: true,
      treeOptions: { maxDepth: params.maxDepth, minNumSamples: 3 },
    } as ConstructorParameters<typeof RandomForestClassifier>[0]);
    rf.train(
      data.rows.map((r) => Array.from(r)),
      data.labels.map((l) => index.get(l)!),
    );
    // Read back from the artifact state so that the trained and the loaded model are one and the same.
    const trees = toTrees(rf);
    return new ForestClassifier(data.featureSet, classes, fromTrees(trees, params, classes.length, d), d, params);
  }

  predictProba(rows: readonly (readonly number[] | Float64Array)[]): number[][] {
    if (rows.length === 0) return [];
    for (const r of rows)
      if (r.length !== this.#dimensions)
        throw new InvalidOptionError(`row has ${r.length} features, expected ${this.#dimensions}`);
    const votes = this.#rf.predictionValues(rows.map((r) => Array.from(r))) as unknown as {
      rows: number;
      getRow(i: number): number[];
    };
    const n = this.classes.length;
    const out: number[][] = [];
    for (let i = 0; i < votes.rows; i++) {
      const p = new Array<number>(n).fill(0);
      const row = votes.getRow(i);
      // Counted, then divided once: twenty additions of 1/20 made 1.0000000000000002, which the
      // prediction event's schema (a probability ≤ 1) refused.
      for (const c of row) p[c]++;
      for (let c = 0; c < n; c++) p[c] /= row.length;
      out.push(p);
    }
    return out;
  }

  toState(): unknown {
    return { dimensions: this.#dimensions, trees: toTrees(this.#rf) };
  }

  static fromState(doc: ModelDocument): ForestClassifier {
    const s = (doc.state ?? {}) as Record<string, unknown>;
    const p = doc.params;
    for (const key of ['trees', 'maxFeatures', 'maxDepth', 'seed'])
      if (typeof p[key] !== 'number') throw new ArtifactInvalidError(`random-forest: bad ${key}`);
    const params = p as unknown as Required<ForestOptions>;
    // The depth bounds the loader's recursion: a tampered artifact must not blow the stack.
    if (!Number.isInteger(params.maxDepth) || params.maxDepth < 1 || params.maxDepth > MAX_DEPTH_LIMIT)
      throw new ArtifactInvalidError(`random-forest: maxDepth must be an integer in 1..${MAX_DEPTH_LIMIT}`);
    const d = s.dimensions;
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d !== doc.featureNames.length)
      throw new ArtifactInvalidError('random-forest: dimensions do not match the feature names');
    if (!Array.isArray(s.trees) || s.trees.length !== params.trees)
      throw new ArtifactInvalidError(`random-forest: expected ${params.trees} trees`);
    const rf = fromTrees(s.trees as TreeState[], params, doc.classes.length, d);
    return new ForestClassifier(doc.featureSet, doc.classes, rf, d, params);
  }
}

function toTrees(rf: RandomForestClassifier): TreeState[] {
  const json = rf.toJSON() as unknown as { baseModel: { indexes: number[][]; estimators: { root: CartNode }[] } };
  return json.baseModel.estimators.map((est, t) => {
    const column: number[] = [];
    const threshold: number[] = [];
    const leafWidth: number[] = [];
    const leaves: number[] = [];
    const walk = (node: CartNode) => {
      if (node.distribution !== undefined) {
        const dist = Array.isArray(node.distribution) ? node.distribution.flat() : node.distribution.to1DArray();
        column.push(-1);
        threshold.push(0);
        leafWidth.push(dist.length);
        leaves.push(...dist);
        return;
      }
      column.push(node.splitColumn!);
      threshold.push(node.splitValue!);
      walk(node.left!);
      walk(node.right!);
    };
    walk(est.root);
    return {
      features: [...json.baseModel.indexes[t]],
      column,
      threshold: encodeFloats(threshold),
      leafWidth,
      leaves: encodeFloats(leaves),
    };
  });
}

/** Rebuilds ml-random-forest's own JSON from checked tree states and loads it with the library. */
function fromTrees(
  trees: TreeState[],
  params: Required<ForestOptions>,
  classes: number,
  d: number,
): RandomForestClassifier {
  const treeOptions = {
    maxDepth: params.maxDepth,
    minNumSamples: 3,
    kind: 'classifier',
    gainFunction: 'gini',
    splitFunction: 'mean',
  };
  const estimators = trees.map((t, ti) => {
    const bad = (why: string) => new ArtifactInvalidError(`random-forest: tree ${ti} ${why}`);
    if (t === null || typeof t !== 'object') throw bad('is not an object');
    if (
      !Array.isArray(t.features) ||
      !t.features.every((f) => Number.isInteger(f) && f >= 0 && f < d) ||
      t.features.length === 0
    )
      throw bad('has bad feature indexes');
    if (!Array.isArray(t.column) || !Array.isArray(t.leafWidth)) throw bad('lacks column or leafWidth');
    const threshold = decodeFloats(t.threshold, t.column.length);
    const widths = t.leafWidth;
    if (!widths.every((w) => Number.isInteger(w) && w >= 1 && w <= classes)) throw bad('has bad leaf widths');
    const leaves = decodeFloats(
      t.leaves,
      widths.reduce((a, b) => a + b, 0),
    );
    let at = 0;
    let leaf = 0;
    let leafAt = 0;
    const build = (depth: number): CartNode & { distribution?: number[][] } => {
      if (depth > params.maxDepth + 1 || at >= t.column.length) throw bad('is deeper or longer than it claims');
      const c = t.column[at];
      const v = threshold[at];
      at++;
      if (c === -1) {
        if (leaf >= widths.length) throw bad('has more leaves than widths');
        const w = widths[leaf++];
        const dist = Array.from(leaves.subarray(leafAt, leafAt + w));
        leafAt += w;
        return { distribution: [dist] };
      }
      if (!Number.isInteger(c) || c < 0 || c >= t.features.length) throw bad('splits on a column it does not have');
      return { splitColumn: c, splitValue: v, left: build(depth + 1), right: build(depth + 1) };
    };
    const root = build(0);
    if (at !== t.column.length || leaf !== widths.length) throw bad('has nodes left over');
    return { root, options: treeOptions, name: 'DTClassifier' };
  });
  return RandomForestClassifier.load({
    name: 'RFClassifier',
    baseModel: {
      indexes: trees.map((t) => t.features),
      n: trees[0]?.features.length ?? d,
      replacement: false,
      maxFeatures: params.maxFeatures,
      nEstimators: trees.length,
      treeOptions,
      isClassifier: true,
      seed: params.seed,
      estimators,
      useSampleBagging: true,
    },
  } as never);
}
