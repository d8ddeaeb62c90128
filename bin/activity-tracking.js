#!/usr/bin/env node
// Runs the compiled CLI (dist/, `npm run build`) with plain node: the package ships it and the tests run it.
// Without dist/ it asks for a build instead of falling back to the sources through tsx: `npm start` and
// the test setup build first (tsc: about 6 s from nothing, 2 s when nothing changed), so what they run is
// never an old build, and tsx stays a dev dependency. One process: a signal sent to it reaches the
// consumer; no child to forward it to.
import { existsSync } from 'node:fs';

const root = new URL('../dist/src/cli/', import.meta.url);
if (!existsSync(new URL('main.js', root))) {
  process.stderr.write('activity-tracking: dist/ is missing; run `npm run build` in the package folder first\n');
  process.exit(78);
}
if (process.env.npm_lifecycle_event) {
  // Started by npx or an npm script, which do not pass SIGTERM on (src/cli/orphan.ts).
  const { stopWhenOrphaned } = await import(new URL('orphan.js', root).href);
  stopWhenOrphaned({ parentPid: process.ppid });
}
const { main } = await import(new URL('main.js', root).href);
process.exitCode = await main(process.argv);
