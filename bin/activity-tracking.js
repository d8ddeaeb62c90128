#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader, so the package needs no build step. One process: a
// signal sent to it reaches the consumer; no child to forward it to.
import { register } from 'tsx/esm/api';

register();
if (process.env.npm_lifecycle_event) {
  // Started by npx or an npm script, which do not pass SIGTERM on (src/cli/orphan.ts).
  const { stopWhenOrphaned } = await import('../src/cli/orphan.ts');
  stopWhenOrphaned({ parentPid: process.ppid });
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
