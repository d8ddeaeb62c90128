import { defineConfig } from 'vitest/config';
import { LongestFirstSequencer } from './test/setup/sequencer.ts';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // Most suites wait on a broker, a server or a child process, not on the CPU: three at once on two
    // cores (vitest's default here is one, cores - 1) took the suite from 11 minutes to 5; with three,
    // a fresh-clone run kept 1.04 cores busy on average (user 7m55 s over 7m39 s), so four.
    maxWorkers: 4,
    minWorkers: 1,
    reporters: ['default'],
    sequence: { sequencer: LongestFirstSequencer },
  },
});
