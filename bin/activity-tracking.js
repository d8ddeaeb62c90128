#!/usr/bin/env node
// Runs the compiled CLI (dist/, `npm run build`) with plain node: the package ships it and the tests run it.
// Without dist/ it asks for a build instead of falling back to the sources through tsx: `npm start` and
// the test setup build first (tsc: about 6 s from nothing, 2 s when nothing changed), so what they run is
// never an old build, and tsx stays a dev dependency.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('activity-tracking: dist/ is missing; run `npm run build` in the package folder first\n');
  process.exit(78);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
