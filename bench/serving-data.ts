/**
 * bench:serving's data: real `har-v3-218` windows of UCI HAR's 21 training
 * users (train) and of the 9 test users (queries) when the full recordings are
 * in ../shared/data/har (or HAR_DIR), otherwise seeded Gaussian clusters of
 * the same shape. Also writes a set as raw float64 rows + labels for
 * bench/serving-sklearn.py, so that both sides train on the same bytes.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hasSharedHar, readRecordings, SHARED_HAR_DIR, sharedHarPaths } from '../src/data/hapt.ts';
import { FEATURE_NAMES, FEATURE_SET, Featurizer } from '../src/features/index.ts';
import type { Dataset } from '../src/model/types.ts';
import { mulberry32 } from '../src/random.ts';

/** The labelled windows of a HAPT recordings file through the project's featurizer, at most `limit`. */
export async function harWindows(file: string, limit: number): Promise<Dataset> {
  const rows: Float64Array[] = [];
  const labels: string[] = [];
  for await (const r of readRecordings(file)) {
    for (const w of new Featurizer().push(r.samples, r.labels)) {
      if (w.label === null || rows.length >= limit) continue;
      rows.push(w.features);
      labels.push(w.label);
    }
    if (rows.length >= limit) break;
  }
  return { featureSet: FEATURE_SET, featureNames: FEATURE_NAMES, rows, labels };
}

/** Six clusters of roughly Gaussian noise (sd 1) around seeded centres, labelled like HAR. */
function seeded(n: number, seed: number): Dataset {
  const d = FEATURE_NAMES.length;
  const random = mulberry32(1);
  const classes = ['LAYING', 'SITTING', 'STANDING', 'WALKING', 'WALKING_DOWNSTAIRS', 'WALKING_UPSTAIRS'];
  const centres = classes.map(() => Float64Array.from({ length: d }, () => random() * 4));
  const noise = mulberry32(seed);
  const rows: Float64Array[] = [];
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % classes.length;
    rows.push(Float64Array.from(centres[c], (v) => v + (noise() + noise() + noise() - 1.5) * 2));
    labels.push(classes[c]);
  }
  return { featureSet: FEATURE_SET, featureNames: FEATURE_NAMES, rows, labels };
}

export interface BenchData {
  source: 'uci-har' | 'seeded';
  train: Dataset;
  queries: Float64Array[];
}

export async function loadBenchData(queryCount: number, synthetic: boolean): Promise<BenchData> {
  const dir = process.env.HAR_DIR ?? SHARED_HAR_DIR;
  if (synthetic || !hasSharedHar(dir))
    return { source: 'seeded', train: seeded(7000, 2), queries: seeded(queryCount, 3).rows };
  const paths = sharedHarPaths(dir);
  return {
    source: 'uci-har',
    train: await harWindows(paths.train, Number.POSITIVE_INFINITY),
    queries: (await harWindows(paths.test, queryCount)).rows,
  };
}

/** Every `step`-th row: the small set the slow trainers (ml-logistic-regression, ml-cart) get. */
export function everyNth(data: Dataset, step: number): Dataset {
  const keep = data.rows.map((_, i) => i).filter((i) => i % step === 0);
  return { ...data, rows: keep.map((i) => data.rows[i]), labels: keep.map((i) => data.labels[i]) };
}

/** `<dir>/<name>.f64` (n × d little-endian float64, row-major) and `<dir>/<name>.labels.json`. */
export async function writeSet(dir: string, name: string, data: Dataset): Promise<void> {
  const d = data.featureNames.length;
  const flat = new Float64Array(data.rows.length * d);
  for (let i = 0; i < data.rows.length; i++) flat.set(data.rows[i], i * d);
  await writeFile(path.join(dir, `${name}.f64`), Buffer.from(flat.buffer, flat.byteOffset, flat.byteLength));
  await writeFile(path.join(dir, `${name}.labels.json`), JSON.stringify(data.labels));
}
