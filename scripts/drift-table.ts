/**
 * Re-measures the detection table of docs/drift.md: the 9 test users of the full HAPT data (first
 * session each) replayed twice through the featurizer and the drift detector on the embedded log,
 * the second pass with each drift kind (`rotation:z:0` is the unchanged stream). Prints one row per
 * kind: drift events before the drift, phones that detected it, first detection after it began.
 *
 * Run: npx tsx scripts/drift-table.ts [kind ...]   (needs ../shared/data/har; a few minutes)
 */
import { silentLogger } from '../src/log/logger.ts';
import { EmbeddedLog } from '../src/transport/embedded/log.ts';
import { runLoop } from '../test/support/run-loop.ts';

const KINDS = [
  'rotation:z:0',
  'rotation:z:45',
  'rotation:y:30',
  'rotation:x:60',
  'bias:acc:0.2,0,0',
  'noise:acc:0.05',
  'gain:gyro:1.5',
  'sample-rate:40',
];
const kinds = process.argv.length > 2 ? process.argv.slice(2) : KINDS;
console.log(
  '| second pass | drift events before the drift | phones that detected it | first detection after it began |',
);
console.log('| --- | --- | --- | --- |');
for (const drift of kinds) {
  const t0 = performance.now();
  const log = new EmbeddedLog();
  const s = await runLoop(
    log,
    { data: 'shared', drift, loops: 2, speed: 'max', partitions: 3 },
    silentLogger,
    () => {},
  );
  await log.close();
  const firsts = Object.values(s.firstDetectionSeconds).filter((v): v is number => v !== null);
  const range = firsts.length === 0 ? '-' : `${Math.round(Math.min(...firsts))}-${Math.round(Math.max(...firsts))} s`;
  const name = drift === 'rotation:z:0' ? 'unchanged (activity switches only)' : `\`${drift}\``;
  console.log(
    `| ${name} | ${s.falseAlarms} | ${drift === 'rotation:z:0' ? '-' : `${firsts.length} / ${s.devices}`} | ${drift === 'rotation:z:0' ? '-' : range} |` +
      `  <!-- ${s.vectors} vectors, ${s.driftEvents.length} events, ${((performance.now() - t0) / 1000).toFixed(0)} s -->`,
  );
}
