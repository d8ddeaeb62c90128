import { type RunSummary, runLoop } from '../../src/cli/run.ts';
import { silentLogger } from '../../src/log/logger.ts';
import type { TopicNames } from '../../src/topics.ts';
import type { Transport } from '../../src/transport/types.ts';

/**
 * The drift scenario the suites share: the bundled sample's test users, one session each,
 * replayed twice as fast as the log takes them, the phones worn rotated 45° the second time;
 * replay → featurizer → drift detector → drift events.
 */
export function driftScenario(transport: Transport, topics: TopicNames): Promise<RunSummary> {
  return runLoop(
    transport,
    { data: 'sample', drift: 'rotation:z:45', loops: 2, speed: 'max', partitions: 3, topics },
    silentLogger,
    () => {},
  );
}
