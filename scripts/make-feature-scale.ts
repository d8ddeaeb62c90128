/**
 * Writes src/features/reference-scale.json: the mean and standard deviation of
 * every feature per activity (and over all labelled windows) on the bundled
 * sample's training users. The drift detector standardizes features with it
 * before ADWIN, whose cut bound has a term in the values' absolute scale
 * (docs/drift.md). Deterministic; rerun when the feature set changes.
 *
 * Run: npx tsx scripts/make-feature-scale.ts
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ACTIVITIES, loadRecordings } from '../src/data/hapt.ts';
import { FEATURE_NAMES, FEATURE_SET, Featurizer } from '../src/features/index.ts';

const groups = new Map<string, Float64Array[]>();
for (const r of loadRecordings('train', 'sample')) {
  for (const w of new Featurizer().push(r.samples, r.labels)) {
    if (w.label === null) continue;
    for (const key of [w.label, '*']) groups.set(key, [...(groups.get(key) ?? []), w.features]);
  }
}
const round = (v: number) => Number(v.toPrecision(6));
const scale: Record<string, { windows: number; mean: number[]; std: number[] }> = {};
for (const key of [...ACTIVITIES, '*']) {
  const rows = groups.get(key) ?? [];
  const mean = FEATURE_NAMES.map((_, k) => rows.reduce((a, r) => a + r[k], 0) / rows.length);
  const std = FEATURE_NAMES.map((_, k) => Math.sqrt(rows.reduce((a, r) => a + (r[k] - mean[k]) ** 2, 0) / rows.length));
  scale[key] = { windows: rows.length, mean: mean.map(round), std: std.map(round) };
}
const file = path.resolve(import.meta.dirname, '../src/features/reference-scale.json');
writeFileSync(
  file,
  `${JSON.stringify({ featureSet: FEATURE_SET, source: 'data/sample train users 1, 3, 5, 6', scale })}\n`,
);
console.log(
  `wrote ${file}: ${Object.entries(scale)
    .map(([k, v]) => `${k} ${v.windows}`)
    .join(', ')}`,
);
