/**
 * Makes the bundled sample (data/sample/) from the full HAPT recordings in
 * ../shared/data/har: whole recordings of a few users, values rounded to 5
 * significant digits (far below the sensors' noise) so the sample stays small.
 * Deterministic: the same input gives the same bytes.
 *
 * Run: npx tsx scripts/make-sample.ts [output dir, default data/sample]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { SAMPLE_DIR, sharedHarPaths } from '../src/data/hapt.ts';

export const SAMPLE_USERS = { train: [1, 3, 5, 6], test: [2, 4, 9] } as const;

function round(cell: string): string {
  return String(Number(Number(cell).toPrecision(5)));
}

const outDir = path.resolve(process.argv[2] ?? SAMPLE_DIR);
const source = sharedHarPaths();
mkdirSync(outDir, { recursive: true });
for (const split of ['train', 'test'] as const) {
  const users = new Set<number>(SAMPLE_USERS[split]);
  const text = gunzipSync(readFileSync(source[split])).toString('utf8');
  const lines = text.split('\n');
  const out = [lines[0]];
  for (const line of lines.slice(1)) {
    if (!line) continue;
    const cells = line.split(',');
    if (!users.has(Number(cells[0]))) continue;
    for (let c = 4; c < 10; c++) cells[c] = round(cells[c]);
    out.push(cells.join(','));
  }
  const gz = gzipSync(Buffer.from(out.join('\n') + '\n'), { level: 9 });
  writeFileSync(path.join(outDir, `hapt-raw-${split}.csv.gz`), gz);
  console.log(`${split}: users ${[...users].join(', ')}: ${out.length - 1} samples, ${gz.length} bytes`);
}
