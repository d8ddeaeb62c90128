import { createRequire } from 'node:module';
import { ArtifactInvalidError, InvalidOptionError } from '../errors.ts';
import { decodeFloats, encodeFloats } from './encoding.ts';
import { Standardizer } from './standardize.ts';
import { SvmScorer } from './svm-scorer.ts';
import type { Classifier, Dataset, ModelDocument } from './types.ts';

export interface SvmOptions {
  /** `linear` or `rbf`. @defaultValue 'linear' */
  kernel?: SvmKernel;
  /** libsvm's C: the cost of a margin violation. @defaultValue 0.01 */
  cost?: number;
  /** RBF width, exp(−γ‖x−y‖²) on standardized features; ignored for `linear`. @defaultValue 0.001 */
  gamma?: number;
  /**
   * Train libsvm's probability model (Platt scaling fitted by an internal
   * five-fold cross-validation: about six times the training time). Without
   * it `predictProba` is one-hot on the predicted class.
   * @defaultValue false
   */
  probability?: boolean;
}

export type SvmKernel = 'linear' | 'rbf';

interface LibSvm {
  train(rows: number[][], labels: number[]): void;
  predict(rows: number[][]): number[];
  predictProbability(rows: number[][]): { prediction: number; estimates: { label: number; probability: number }[] }[];
  serializeModel(): string;
  free(): void;
}
interface LibSvmStatic {
  new (options: Record<string, unknown>): LibSvm & { model: number; _deserialized: boolean };
  load(text: string): LibSvm;
  SVM_TYPES: Record<string, number>;
  KERNEL_TYPES: Record<string, number>;
}

// libsvm-js's main entry is libsvm 3.x compiled to WebAssembly; it resolves
// once the module is instantiated, so this module waits for it at load time
// and every later call is synchronous.
const require = createRequire(import.meta.url);
const SVM = await loadLibsvm();

/**
 * Loads libsvm-js (libsvm 3 compiled by Emscripten) without its side effects
 * on the process. Its Node start-up registers an `unhandledRejection` handler
 * that calls `process.exit(1)` and prints nothing: every unhandled rejection
 * anywhere would end the process silently. That handler is removed again.
 * And it tries `fetch` on a file path first, fails, and prints "wasm streaming
 * compile failed" on every start; with `fetch` hidden for the (synchronous)
 * require it reads the .wasm file directly.
 */
function loadLibsvm(): Promise<LibSvmStatic> {
  const before = new Set(process.listeners('unhandledRejection'));
  const fetchDescriptor = Object.getOwnPropertyDescriptor(globalThis, 'fetch');
  Object.defineProperty(globalThis, 'fetch', { value: undefined, configurable: true, writable: true });
  try {
    return require('libsvm-js') as Promise<LibSvmStatic>;
  } finally {
    if (fetchDescriptor) Object.defineProperty(globalThis, 'fetch', fetchDescriptor);
    else Reflect.deleteProperty(globalThis, 'fetch');
    for (const listener of process.listeners('unhandledRejection'))
      if (!before.has(listener)) process.off('unhandledRejection', listener);
  }
}

/** The Emscripten module behind libsvm-js (the same instance: `require` caches it). */
const wasm = require('libsvm-js/out/wasm/libsvm') as {
  cwrap(name: string, ret: string, args: string[]): (...args: number[]) => number;
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  HEAPU8: Uint8Array;
};
const deserializeModel = wasm.cwrap('deserialize_model', 'number', ['number']);

/**
 * `SVM.load(text)` hands the model text to C through Emscripten's `ccall`
 * string conversion, which copies it onto the 5 MB WebAssembly stack (4 bytes
 * reserved per character). A model of a few MB overflows the stack into the
 * heap and silently corrupted other loaded models (measured: an RBF model
 * predicted differently after a second copy was loaded). So the text goes
 * through a heap buffer instead, and the instance is assembled the way
 * `SVM.load` does it.
 */
function loadText(text: string): LibSvm {
  const bytes = Buffer.from(text, 'latin1');
  const pointer = wasm._malloc(bytes.length + 1);
  if (!pointer) throw new ArtifactInvalidError('svm: no WebAssembly memory for the model text');
  try {
    wasm.HEAPU8.set(bytes, pointer);
    wasm.HEAPU8[pointer + bytes.length] = 0;
    const model = deserializeModel(pointer);
    if (!model) throw new ArtifactInvalidError('svm: libsvm could not read the model text');
    const svm = new SVM({});
    svm.model = model;
    svm._deserialized = true;
    return svm;
  } finally {
    wasm._free(pointer);
  }
}

// The WebAssembly heap is not garbage-collected: free a model's memory once
// its JavaScript owner is gone.
const heap = new FinalizationRegistry<LibSvm>((svm) => svm.free());

/**
 * Support-vector classifier through libsvm-js (libsvm's C-SVC, one-vs-one) on
 * standardized features. libsvm gives probabilities only after an internal
 * five-fold cross-validation (`probability: true`); otherwise `predictProba`
 * is one-hot on libsvm's predicted class.
 *
 * The artifact stores libsvm's own model text. The classifier that `train`
 * returns is already the one read back from that text, so a loaded artifact
 * predicts exactly what the trained model did. `predictProba` scores with
 * libsvm's prediction rewritten in JavaScript over that text (svm-scorer.ts:
 * a linear model collapsed to one weight vector per class pair);
 * `predictProbaLibsvm` is libsvm-js's own, kept as the reference.
 */
export class SvmClassifier implements Classifier {
  readonly kind = 'svm';
  readonly params: Readonly<Record<string, string | number | boolean>>;
  readonly #svm: LibSvm;
  readonly #text: string;
  readonly #scorer: SvmScorer;

  private constructor(
    readonly featureSet: string,
    readonly classes: readonly string[],
    readonly standardizer: Standardizer,
    text: string,
    params: { kernel: SvmKernel; cost: number; gamma: number; probability: boolean },
  ) {
    const { gamma, ...linear } = params;
    this.params = params.kernel === 'linear' ? linear : params;
    this.#text = text;
    this.#svm = loadText(text);
    heap.register(this, this.#svm);
    this.#scorer = new SvmScorer(text, standardizer.dimensions);
  }

  static train(data: Dataset, options: SvmOptions = {}): SvmClassifier {
    const kernel = options.kernel ?? 'linear';
    const cost = options.cost ?? 0.01;
    const gamma = options.gamma ?? 0.001;
    const probability = options.probability ?? false;
    if (kernel !== 'linear' && kernel !== 'rbf')
      throw new InvalidOptionError(`kernel must be linear or rbf, got ${kernel}`);
    if (!(cost > 0 && Number.isFinite(cost)))
      throw new InvalidOptionError(`cost must be a positive number, got ${cost}`);
    if (!(gamma > 0 && Number.isFinite(gamma)))
      throw new InvalidOptionError(`gamma must be a positive number, got ${gamma}`);
    const classes = [...new Set(data.labels)].sort();
    if (classes.length < 2) throw new InvalidOptionError('an SVM needs at least two classes');
    const index = new Map(classes.map((c, i) => [c, i]));
    const standardizer = Standardizer.fit(data.rows);
    const svm = new SVM({
      type: SVM.SVM_TYPES.C_SVC,
      kernel: kernel === 'linear' ? SVM.KERNEL_TYPES.LINEAR : SVM.KERNEL_TYPES.RBF,
      cost,
      gamma,
      probabilityEstimates: probability,
      quiet: true,
    });
    try {
      svm.train(
        standardizer.applyAll(data.rows),
        data.labels.map((l) => index.get(l)!),
      );
      const text = svm.serializeModel();
      return new SvmClassifier(data.featureSet, classes, standardizer, text, { kernel, cost, gamma, probability });
    } finally {
      svm.free();
    }
  }

  predictProba(rows: readonly (readonly number[] | Float64Array)[]): number[][] {
    if (rows.length === 0) return [];
    const d = this.standardizer.dimensions;
    const x = new Float64Array(rows.length * d);
    for (let r = 0; r < rows.length; r++) this.standardizer.applyInto(rows[r], x.subarray(r * d, (r + 1) * d));
    return this.#scorer.predictProba(x, rows.length);
  }

  /** libsvm-js's own prediction, one WebAssembly call per row: the reference `predictProba` agrees with. */
  predictProbaLibsvm(rows: readonly (readonly number[] | Float64Array)[]): number[][] {
    if (rows.length === 0) return [];
    const n = this.classes.length;
    const x = this.standardizer.applyAll(rows);
    if (this.params.probability === true)
      return this.#svm.predictProbability(x).map(({ estimates }) => {
        const p = new Array<number>(n).fill(0);
        for (const e of estimates) p[e.label] = e.probability;
        return p;
      });
    return this.#svm.predict(x).map((c) => {
      const p = new Array<number>(n).fill(0);
      p[c] = 1;
      return p;
    });
  }

  toState(): unknown {
    return {
      mean: encodeFloats(this.standardizer.mean),
      scale: encodeFloats(this.standardizer.scale),
      libsvm: this.#text,
    };
  }

  static fromState(doc: ModelDocument): SvmClassifier {
    const s = (doc.state ?? {}) as Record<string, unknown>;
    const { kernel, cost } = doc.params;
    const probability = doc.params.probability ?? false;
    if (typeof probability !== 'boolean') throw new ArtifactInvalidError('svm: bad probability');
    const gamma = doc.params.gamma ?? 0.001;
    if (kernel !== 'linear' && kernel !== 'rbf') throw new ArtifactInvalidError('svm: bad kernel');
    if (typeof cost !== 'number' || !(cost > 0)) throw new ArtifactInvalidError('svm: bad cost');
    if (typeof gamma !== 'number' || !(gamma > 0)) throw new ArtifactInvalidError('svm: bad gamma');
    const mean = decodeFloats(s.mean);
    const scale = decodeFloats(s.scale, mean.length);
    if (typeof s.libsvm !== 'string') throw new ArtifactInvalidError('svm: libsvm model text missing');
    if (!/^[\n\x20-\x7e]*$/.test(s.libsvm)) throw new ArtifactInvalidError('svm: model text is not plain ASCII');
    checkModelText(s.libsvm, kernel, doc.classes.length, mean.length, probability);
    return new SvmClassifier(doc.featureSet, doc.classes, new Standardizer(mean, scale), s.libsvm, {
      kernel,
      cost,
      gamma,
      probability,
    });
  }
}

const NUMBER = '-?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][-+]?\\d+)?';

/**
 * libsvm's model reader (C, inside the WebAssembly sandbox) trusts its input,
 * so the text is checked here first: the header keys libsvm writes for a
 * C-SVC, the kernel and class count the artifact claims, and exactly
 * `total_sv` support-vector lines of numbers with feature indices in range.
 */
function checkModelText(
  text: string,
  kernel: SvmKernel,
  classes: number,
  dimensions: number,
  probability: boolean,
): void {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const sv = lines.indexOf('SV');
  if (sv < 0) throw new ArtifactInvalidError('svm: model text has no SV section');
  const header = new Map<string, string[]>();
  for (const line of lines.slice(0, sv)) {
    const [key, ...values] = line.trim().split(' ');
    if (header.has(key)) throw new ArtifactInvalidError(`svm: model text repeats "${key}"`);
    header.set(key, values);
  }
  const expect = (key: string, ok: (v: string[]) => boolean) => {
    const v = header.get(key);
    if (!v || !ok(v)) throw new ArtifactInvalidError(`svm: model text has a bad or missing "${key}" line`);
  };
  const allowed = new Set(['svm_type', 'kernel_type', 'gamma', 'nr_class', 'total_sv', 'rho', 'label', 'nr_sv']);
  if (probability) allowed.add('probA').add('probB');
  for (const key of header.keys())
    if (!allowed.has(key)) throw new ArtifactInvalidError(`svm: unexpected "${key}" line`);
  const isNum = (v: string) => new RegExp(`^${NUMBER}$`).test(v);
  const isIndex = (v: string) => /^\d+$/.test(v) && Number(v) < classes;
  expect('svm_type', (v) => v.length === 1 && v[0] === 'c_svc');
  expect('kernel_type', (v) => v.length === 1 && v[0] === kernel);
  if (kernel === 'rbf') expect('gamma', (v) => v.length === 1 && isNum(v[0]));
  expect('nr_class', (v) => v.length === 1 && Number(v[0]) === classes);
  expect('rho', (v) => v.length === (classes * (classes - 1)) / 2 && v.every(isNum));
  expect('label', (v) => v.length === classes && v.every(isIndex) && new Set(v).size === classes);
  const pairs = (classes * (classes - 1)) / 2;
  if (probability) for (const key of ['probA', 'probB']) expect(key, (v) => v.length === pairs && v.every(isNum));
  const total = Number(header.get('total_sv')?.[0]);
  expect(
    'nr_sv',
    (v) => v.length === classes && v.every((x) => /^\d+$/.test(x)) && v.reduce((a, x) => a + Number(x), 0) === total,
  );
  if (lines.length - sv - 1 !== total) throw new ArtifactInvalidError(`svm: expected ${total} support vectors`);
  const coef = new RegExp(`^${NUMBER}$`);
  const pair = new RegExp(`^(\\d+):${NUMBER}$`);
  for (let i = sv + 1; i < lines.length; i++) {
    const parts = lines[i].trim().split(' ');
    for (let j = 0; j < parts.length; j++) {
      if (j < classes - 1) {
        if (!coef.test(parts[j])) throw new ArtifactInvalidError(`svm: bad coefficient on support vector ${i - sv}`);
        continue;
      }
      const m = pair.exec(parts[j]);
      if (!m || Number(m[1]) < 1 || Number(m[1]) > dimensions)
        throw new ArtifactInvalidError(`svm: bad feature on support vector ${i - sv}`);
    }
  }
}
