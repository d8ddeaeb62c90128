/**
 * Where a CPU profile's time goes, by stage of the pipeline: reads the `.cpuprofile` files that
 * `node --cpu-prof` wrote and prints each stage's share of the busy (non-idle) self time, then the
 * heaviest functions. Used for the profile table in docs/performance.md:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/pipeline.ts --embedded-only --loops 8
 *   node --import tsx scripts/profile-summary.ts /tmp/prof/*.cpuprofile
 *
 * A function's stage is decided by its file (and a few V8 built-ins by name); the first rule that
 * matches wins, so the more specific rules come first.
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const STAGES: [string, (url: string, fn: string) => boolean][] = [
  ['idle', (_u, f) => f === '(idle)' || f === '(program)'],
  // tsx compiling the TypeScript sources at start-up: not per-sample work, left out of the shares.
  [
    'start-up (module loading)',
    (u, f) =>
      /node:internal\/(modules|source_map|deps\/cjs-module-lexer)/.test(u) ||
      /^(receiveMessageOnPort|readFileUtf8)$/.test(f),
  ],
  ['garbage collection', (_u, f) => f === '(garbage collector)'],
  // Readings and vectors alike, both ways (the replay encodes in the same process): CloudEvents, bodies, ajv.
  [
    'encode/decode + validation',
    (u, f) => /src\/schemas\/|ajv/.test(u) || /^(parse|stringify|JSONParse|JSONStringify)$/.test(f),
  ],
  ['featurizer (windows, filters, FFT, features)', (u) => /src\/features\/|consumers\/featurizer\//.test(u)],
  ['drift detector (ADWIN banks)', (u) => /src\/drift\/|consumers\/drift-detector\//.test(u)],
  ['checkpoints (snapshots, CRC)', (u) => /snapshot|stream-state|checkpoint/.test(u)],
  ['kafkajs (Kafka protocol, client side)', (u) => /node_modules\/kafkajs\//.test(u)],
  ['Event Hubs SDK + AMQP (rhea)', (u) => /node_modules\/(@azure|rhea|rhea-promise)\//.test(u)],
  ['Event Hubs local peer (the test server)', (u) => /test\/eventhubs\//.test(u)],
  ['log / transport (our adapters)', (u) => /src\/transport\//.test(u)],
  ['consumer loop, dead letters, metrics', (u) => /src\/pipeline\/|src\/metrics\/|prom-client/.test(u)],
  ['replay producer', (u) => /producers\//.test(u)],
  ['bench harness', (u) => /bench\//.test(u)],
  ['Node / V8 internals', (u) => u === '' || u.startsWith('node:')],
];

const LEFT_OUT = new Set(['idle', 'start-up (module loading)']);
const selfTime = new Map<string, number>();
const byFunction = new Map<string, number>();
for (const file of process.argv.slice(2)) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  profile.samples.forEach((id, i) => {
    const { url, functionName, lineNumber } = nodes.get(id)!.callFrame;
    const stage = STAGES.find(([, match]) => match(url, functionName))?.[0] ?? 'other';
    const us = profile.timeDeltas[i] ?? 0;
    selfTime.set(stage, (selfTime.get(stage) ?? 0) + us);
    const name = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(src|consumers|producers|node_modules|bench)\//, '$1/')}:${lineNumber + 1}`;
    if (!LEFT_OUT.has(stage)) byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  });
}
const busy = [...selfTime].filter(([s]) => !LEFT_OUT.has(s)).reduce((a, [, us]) => a + us, 0);
const seconds = (stage: string) => ((selfTime.get(stage) ?? 0) / 1e6).toFixed(2);
console.log(
  `busy self time ${(busy / 1e6).toFixed(2)} s (left out: idle ${seconds('idle')} s, start-up ${seconds('start-up (module loading)')} s)`,
);
console.log('| stage | share of busy time |\n| --- | ---: |');
for (const [stage, us] of [...selfTime].filter(([s]) => !LEFT_OUT.has(s)).sort((a, b) => b[1] - a[1]))
  console.log(`| ${stage} | ${((100 * us) / busy).toFixed(1)} % |`);
console.log('\nheaviest functions (self time):');
for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 25))
  console.log(`${((100 * us) / busy).toFixed(1).padStart(5)} %  ${name}`);
