import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The suites that take longest, longest first (measured on 2 cores). Three workers take files in order,
 * so starting the long ones first keeps one of them from starting last and running alone at the end:
 * on a fresh clone vitest has no timings of its own to sort by. The image suite comes first because
 * its file builds the serving image while it is collected (minutes when cold, mostly waiting on apt,
 * mmdebstrap and podman rather than on the CPU).
 */
const LONGEST_FIRST = [
  'test/serving/image.test.ts',
  'test/deploy/container.test.ts',
  // Then by duration in a fresh-clone run (session 6: 4 workers, 386 s in all).
  'test/cli/main-job-real.test.ts',
  'test/faults/sigkill.test.ts',
  'test/cli/main-job-embedded.test.ts',
  'test/faults/broker-restart.test.ts',
  'test/transport/kafka-secure.test.ts',
  'test/cli/readme-own-kafka.test.ts',
  'test/consumers/detector-restart.test.ts',
  'test/transport/kafka.test.ts',
  'test/consumers/retrainer.test.ts',
  'test/cli/services.test.ts',
  'test/faults/eventhubs-sigkill.test.ts',
  'test/cli/replay.test.ts',
  'test/consumers/pipeline.test.ts',
  'test/transport/kafka-subscription.test.ts',
  'test/consumers/deploy-predict.test.ts',
  'test/cli/signals.test.ts',
  'test/consumers/retrainer-membership.test.ts',
  'test/consumers/featurizer-redelivery.test.ts',
  'test/consumers/featurizer-publish.test.ts',
  'test/model/candidates.test.ts',
  'test/cli/exit-codes.test.ts',
  'test/cli/run-teardown.test.ts',
  'test/pipeline/checkpoint.test.ts',
  'test/report/report.test.ts',
  'test/dashboard/dashboard.test.ts',
];

export class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = LONGEST_FIRST.findIndex((p) => f.moduleId.endsWith(p));
      return i === -1 ? LONGEST_FIRST.length : i;
    };
    // Array.prototype.sort is stable: the rest keep the order vitest gave them.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
