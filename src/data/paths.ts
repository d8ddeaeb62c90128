import { existsSync } from 'node:fs';
import path from 'node:path';
import { NotFoundError } from '../errors.ts';
import { PACKAGE_ROOT } from '../runtime.ts';

/** The recordings bundled with the project (data/sample/README.md): works on any machine. */
export const SAMPLE_DIR = path.join(PACKAGE_ROOT, 'data/sample');
/** The full HAPT recordings beside the project (`<root>/../shared/data/har`). */
export const SHARED_HAR_DIR = path.resolve(PACKAGE_ROOT, '../shared/data/har');

export type Split = 'train' | 'test';

/** Where one copy of the data lives: the raw CSV of each split. */
export interface HarPaths {
  dir: string;
  train: string;
  test: string;
}

const pathsIn = (dir: string): HarPaths => ({
  dir,
  train: path.join(dir, 'hapt-raw-train.csv.gz'),
  test: path.join(dir, 'hapt-raw-test.csv.gz'),
});

/**
 * The bundled sample: 4 training and 3 test users, values rounded to 5
 * significant digits. Callers choose it explicitly; it is never substituted
 * for the full data behind their back, because numbers measured on it
 * (accuracy, drift delays) are not the full data set's.
 */
export function samplePaths(): HarPaths {
  return pathsIn(SAMPLE_DIR);
}

export function hasSharedHar(dir = SHARED_HAR_DIR): boolean {
  const p = pathsIn(dir);
  return existsSync(p.train) && existsSync(p.test);
}

/** The full 30-user recordings; NotFoundError (saying where it looked) when they are absent. */
export function sharedHarPaths(dir = SHARED_HAR_DIR): HarPaths {
  if (!hasSharedHar(dir)) {
    throw new NotFoundError(
      `full HAPT data not found in ${dir} (hapt-raw-train.csv.gz, hapt-raw-test.csv.gz); use samplePaths() for the bundled sample`,
      { context: { dir } },
    );
  }
  return pathsIn(dir);
}
