/**
 * `activity-tracking <args>` from the sources, for benches that run the CLI's consumers as processes of
 * their own (bench/instances.ts): the same `main()` as bin/activity-tracking.js without the dist/ build
 * the bin needs. It stops as on SIGTERM when the bench that started it goes away, so a bench killed
 * hard leaves no consumer behind (src/cli/orphan.ts).
 */
import { main } from '../src/cli/main.ts';
import { stopWhenOrphaned } from '../src/cli/orphan.ts';

stopWhenOrphaned({ parentPid: process.ppid });
process.exitCode = await main(process.argv);
