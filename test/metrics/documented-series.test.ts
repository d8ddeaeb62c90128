import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deployerConsumer, predictorConsumer } from '../../consumers/index.ts';
import { ModelSwitcher } from '../../consumers/predictor/switcher.ts';
import { candidateTrainer, QUICK_CANDIDATES } from '../../consumers/retrainer/candidates.ts';
import { RetrainerConsumer } from '../../consumers/retrainer/consumer.ts';
import { drained } from '../../src/cli/drain.ts';
import { LocalTarget } from '../../src/deploy/local.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { PipelineMetrics } from '../../src/metrics/metrics.ts';
import { StreamConsumer } from '../../src/pipeline/stream-consumer.ts';
import { ModelHandle } from '../../src/serving/model-handle.ts';
import { registryModelSource } from '../../src/serving/model-source.ts';
import { namespacedTopics, topicSpecs } from '../../src/topics.ts';
import { EmbeddedTrackingStore } from '../../src/tracking/embedded/store.ts';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import { runLoop } from '../support/run-loop.ts';
import { waitFor } from '../support/wait.ts';

/** The series table of docs/operations.md: each series with the components that fill it. */
function documentedSeries(): { series: string; components: string[] }[] {
  const doc = readFileSync(path.join(import.meta.dirname, '../../docs/operations.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| `(activity_[a-z_]+)(?:\{[a-z_,]*\})?` \| ([a-z, -]+) \|/gm)];
  return rows.map((m) => ({ series: m[1], components: m[2].split(',').map((c) => c.trim()) }));
}

describe('documented metrics', () => {
  it('every series docs/operations.md lists has a sample from each component it names', {
    timeout: 60_000,
  }, async () => {
    const documented = documentedSeries();
    expect(documented.length).toBeGreaterThanOrEqual(12);
    const components = ['featurizer', 'drift-detector', 'retrainer', 'deployer', 'predictor'] as const;
    // One registry per component, as with one process per consumer: no component is credited with another's series.
    const metrics = Object.fromEntries(components.map((c) => [c, new PipelineMetrics()])) as Record<
      (typeof components)[number],
      PipelineMetrics
    >;
    expect(new Set(documented.flatMap((d) => d.components))).toEqual(new Set(components));

    const transport = new EmbeddedLog();
    const dir = mkdtempSync(path.join(tmpdir(), 'documented-series-'));
    const backend = new EmbeddedTrackingStore(dir);
    const target = new LocalTarget({ trackingDir: dir });
    const stops: (() => Promise<void>)[] = [() => transport.close(), () => target.close()];
    try {
      const topics = namespacedTopics(`m-${randomUUID()}`);
      await transport.ensureTopics(topicSpecs(3, topics));
      // One record without CloudEvent headers on each consumer's input, so that each dead-letters one.
      const producer = await transport.producer();
      const junk = Buffer.from(JSON.stringify({ window: { start: 0 } }));
      await producer.publish(
        [topics.sensorReadings, topics.features, topics.driftEvents, topics.modelEvents].map((topic) => ({
          topic,
          key: 'junk',
          value: junk,
        })),
      );
      await producer.close();

      // Replay with a rotation → featurizer → detector: drift events.
      const summary = await runLoop(
        transport,
        {
          data: 'sample',
          drift: 'rotation:z:45',
          loops: 2,
          speed: 'max',
          partitions: 3,
          topics,
          metrics: { featurizer: metrics.featurizer, detector: metrics['drift-detector'] },
          checkpointInterval: 100,
        },
        silentLogger,
        () => {},
      );
      expect(summary.driftEvents.length).toBeGreaterThan(0);

      // Drift events → retrainer (quick candidates): v1, promoted → deployer (local) → predictor.
      const group = randomUUID().slice(0, 8);
      const deployer = deployerConsumer(
        { transport, topics, metrics: metrics.deployer, groupId: `deployer-${group}` },
        { target },
      );
      await deployer.consumer.start();
      stops.push(() => deployer.consumer.stop());
      const retrainer = new RetrainerConsumer({
        transport,
        backend,
        topics,
        trainer: candidateTrainer(QUICK_CANDIDATES),
        model: `har-${group}`,
        quietMs: 300,
        maxWaitMs: 3000,
        pollMs: 100,
        // The phones have gone: post-drift vectors made under a new calibration would never come.
        calibrate: false,
        groupId: `retrainer-${group}`,
        metrics: metrics.retrainer,
      });
      await retrainer.start();
      stops.push(() => retrainer.stop());
      const handle = new ModelHandle(registryModelSource(backend.registry));
      const switcher = new StreamConsumer({
        component: 'model-switcher',
        transport,
        groupId: `switcher-${group}`,
        topics: [topics.deploymentEvents],
        processor: new ModelSwitcher(handle),
      });
      await switcher.start();
      stops.push(() => switcher.stop());
      await waitFor(() => handle.current() !== null, 'the first promoted version to serve', { timeoutMs: 40_000 });
      const predictor = predictorConsumer(
        { transport, topics, metrics: metrics.predictor, groupId: `predictor-${group}` },
        { handle },
      );
      await predictor.consumer.start();
      stops.push(() => predictor.consumer.stop());
      await drained(
        transport,
        [
          [`retrainer-${group}`, topics.driftEvents],
          [`deployer-${group}`, topics.modelEvents],
          [`predictor-${group}`, topics.features],
        ],
        30_000,
      );

      const missing: string[] = [];
      for (const c of components) {
        const scraped = new Map((await metrics[c].registry.getMetricsAsJSON()).map((m) => [m.name, m.values]));
        for (const { series, components: fillers } of documented)
          if (fillers.includes(c) && !scraped.get(series)?.some((v) => v.labels.component === c))
            missing.push(`${c}: ${series}`);
      }
      expect(missing).toEqual([]);
      // The values the issue found empty agree with what the components report elsewhere.
      const serving = handle.current()!.ref;
      const version = (await metrics.predictor.modelVersion.get()).values;
      expect(version).toEqual([{ labels: { component: 'predictor', model: serving.name }, value: serving.version }]);
      const retrainings = (await metrics.retrainer.retrainings.get()).values;
      expect(retrainings.reduce((n, v) => n + v.value, 0)).toBe(retrainer.outcomes.length);
      expect(retrainings.find((v) => v.labels.outcome === 'promoted')?.value).toBeGreaterThanOrEqual(1);
    } finally {
      for (const stop of stops.reverse()) await stop();
      await backend.close();
    }
  });
});
