import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { InvalidRecordError } from '../errors.ts';

/** The six basic activities of UCI HAR, in UCI's order (label ids 1..6). */
export const ACTIVITIES = [
  'WALKING',
  'WALKING_UPSTAIRS',
  'WALKING_DOWNSTAIRS',
  'SITTING',
  'STANDING',
  'LAYING',
] as const;
export type Activity = (typeof ACTIVITIES)[number];

export function isActivity(label: string | null | undefined): label is Activity {
  return label != null && (ACTIVITIES as readonly string[]).includes(label);
}

/** UCI HAR's subject split: the 9 test users; the other 21 are the training users. */
export const TEST_USERS: readonly number[] = [2, 4, 9, 10, 12, 13, 18, 20, 24];
export const TRAIN_USERS: readonly number[] = Array.from({ length: 30 }, (_, i) => i + 1).filter(
  (u) => !TEST_USERS.includes(u),
);

/** Channels per sample: acc x, y, z in g, then gyro x, y, z in rad/s. */
export const CHANNELS = 6;
export const SAMPLE_RATE_HZ = 50;

/** One continuous recording of one user's phone. */
export interface Recording {
  user: number;
  exp: number;
  /** Row-major samples, `CHANNELS` values per sample. */
  samples: Float64Array;
  /** Activity of each sample's labelled segment (basic activity or transition); null between segments. */
  labels: (string | null)[];
}

const PROJECT_ROOT = path.resolve(import.meta.dirname, '../..');

/** The recordings bundled with the project (data/sample/README.md): works on any machine. */
export const SAMPLE_DIR = path.join(PROJECT_ROOT, 'data/sample');
/** The full HAPT recordings beside the project (`../shared/data/har`), for tests and benchmarks only. */
export const SHARED_HAR_DIR = path.resolve(PROJECT_ROOT, '../shared/data/har');

export function hasSharedHar(): boolean {
  return existsSync(path.join(SHARED_HAR_DIR, 'hapt-raw-train.csv.gz'));
}

const HEADER = 'user,exp,sample,activity,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z';

/**
 * Parses a HAPT raw CSV (gzipped or not) into recordings, in file order.
 * The file is `user,exp,sample,activity,acc_x..gyro_z`, ordered by exp then sample.
 */
export function parseHapt(bytes: Buffer, source = 'HAPT file'): Recording[] {
  const text = (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
  let pos = text.indexOf('\n');
  const header = text.slice(0, pos).trim();
  if (header !== HEADER) throw new InvalidRecordError(`${source}: unexpected header "${header}", expected "${HEADER}"`);
  const recordings: Recording[] = [];
  let current: { user: number; exp: number; values: number[]; labels: (string | null)[] } | undefined;
  const flush = () => {
    if (current) {
      recordings.push({
        user: current.user,
        exp: current.exp,
        samples: Float64Array.from(current.values),
        labels: current.labels,
      });
    }
  };
  let line = 1;
  while (pos < text.length - 1) {
    const next = text.indexOf('\n', pos + 1);
    const end = next < 0 ? text.length : next;
    const row = text.slice(pos + 1, end);
    pos = end;
    line++;
    if (row.length === 0) continue;
    const cells = row.split(',');
    if (cells.length !== 10)
      throw new InvalidRecordError(`${source} line ${line}: ${cells.length} columns, expected 10`);
    const user = Number(cells[0]);
    const exp = Number(cells[1]);
    if (!current || current.exp !== exp) {
      flush();
      current = { user, exp, values: [], labels: [] };
    }
    for (let c = 4; c < 10; c++) {
      const v = Number(cells[c]);
      if (!Number.isFinite(v)) throw new InvalidRecordError(`${source} line ${line}: column ${c + 1} is not a number`);
      current.values.push(v);
    }
    current.labels.push(cells[3] === '' ? null : cells[3]);
  }
  flush();
  return recordings;
}

export function readHapt(file: string): Recording[] {
  return parseHapt(readFileSync(file), path.basename(file));
}

export type Split = 'train' | 'test';

/** Recordings of one split, from the bundled sample or the shared full data set. */
export function loadRecordings(split: Split, from: 'sample' | 'shared'): Recording[] {
  const dir = from === 'sample' ? SAMPLE_DIR : SHARED_HAR_DIR;
  return readHapt(path.join(dir, `hapt-raw-${split}.csv.gz`));
}
