/**
 * The HAPT / UCI HAR recordings: activity and split constants, where the data
 * lives, and the readers. Full data and the bundled sample are read by the same
 * code; callers pick one explicitly (`sharedHarPaths()` or `samplePaths()`).
 */
import { type Split, samplePaths, sharedHarPaths } from './paths.ts';
import { type Recording, readHapt } from './reader.ts';

export * from './activities.ts';
export * from './paths.ts';
export * from './reader.ts';

/** Recordings of one split, read whole and synchronously, from the bundled sample or the shared full data set. */
export function loadRecordings(split: Split, from: 'sample' | 'shared'): Recording[] {
  const paths = from === 'sample' ? samplePaths() : sharedHarPaths();
  return readHapt(paths[split]);
}
