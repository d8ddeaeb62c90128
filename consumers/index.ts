import path from 'node:path';
import type { Logger } from '../src/log/logger.ts';
import type { PipelineMetrics } from '../src/metrics/metrics.ts';
import { type BatchProcessor, StreamConsumer } from '../src/pipeline/stream-consumer.ts';
import type { EvictionOptions } from '../src/pipeline/stream-state.ts';
import { TOPICS, type TopicNames } from '../src/topics.ts';
import type { Transport } from '../src/transport/types.ts';
import { type DeployerOptions, DeployerProcessor } from './deployer/processor.ts';
import { type DriftDetectorOptions, DriftDetectorProcessor } from './drift-detector/processor.ts';
import { FeaturizerProcessor, type FeaturizerProcessorOptions } from './featurizer/processor.ts';
import { type PredictorOptions, PredictorProcessor } from './predictor/processor.ts';

export interface ConsumerWiring {
  transport: Transport;
  logger?: Logger;
  metrics?: PipelineMetrics;
  /** @defaultValue the component's name prefixed with `activity-tracking-` */
  groupId?: string;
  /** @defaultValue TOPICS */
  topics?: TopicNames;
  /**
   * Input records per partition between state checkpoints (stateful consumers; docs/exactly-once.md);
   * false turns checkpoints off. @defaultValue 1000
   */
  checkpointInterval?: number | false;
  /**
   * A stream (device, or device and activity) idle this long, and checkpointed, leaves memory for the spill
   * directory (docs/operations.md, "Idle streams"); false keeps every stream. Stateful consumers with
   * checkpoints only. @defaultValue 300000 (5 minutes)
   */
  evictIdleMs?: number | false;
  /** The spill directory's parent: each consumer spills to `<stateDir>/<component>`. @defaultValue a temporary folder */
  stateDir?: string;
  /** Transactions: outputs, checkpoints and offsets commit together (docs/exactly-once.md). @defaultValue false */
  exactlyOnce?: boolean;
  /** Where a new group starts: the oldest record, or only records published after it joined. @defaultValue true */
  fromBeginning?: boolean;
}

function wiring(component: string, w: ConsumerWiring) {
  return {
    component,
    transport: w.transport,
    groupId: w.groupId ?? `activity-tracking-${component}`,
    ...(w.logger ? { logger: w.logger } : {}),
    ...(w.metrics ? { metrics: w.metrics } : {}),
  };
}

/** Wires a processor, given the topics and the shared options, to the transport as a stream consumer. */
function consumerOf<P extends BatchProcessor, O>(
  component: string,
  w: ConsumerWiring,
  input: (topics: TopicNames) => string,
  make: (
    options: O & { topics: TopicNames; logger?: Logger; metrics?: PipelineMetrics; eviction?: EvictionOptions },
  ) => P,
  options: O,
  stateTopic?: (topics: TopicNames) => string,
) {
  const topics = w.topics ?? TOPICS;
  const interval = w.checkpointInterval ?? 1000;
  // Only a checkpointed stream is ever clean, and only a clean one is evicted.
  const eviction: EvictionOptions | undefined =
    stateTopic && interval !== false
      ? {
          ...(w.evictIdleMs !== undefined ? { idleMs: w.evictIdleMs } : {}),
          ...(w.stateDir !== undefined ? { dir: path.join(w.stateDir, component) } : {}),
        }
      : undefined;
  const processor = make({
    topics,
    ...(eviction ? { eviction } : {}),
    ...options,
    ...(w.logger ? { logger: w.logger } : {}),
    ...(w.metrics ? { metrics: w.metrics } : {}),
  });
  const checkpoint = stateTopic && interval !== false ? { checkpoint: { topic: stateTopic(topics), interval } } : {};
  return {
    processor,
    consumer: new StreamConsumer({
      ...wiring(component, w),
      topics: [input(topics)],
      processor,
      ...checkpoint,
      exactlyOnce: w.exactlyOnce ?? false,
      fromBeginning: w.fromBeginning ?? true,
      deadLetterTopic: topics.deadLetter,
    }),
  };
}

/** The featurizer as a consumer: sensor-readings in, features (and dead letters) out. */
export function featurizerConsumer(w: ConsumerWiring, options: FeaturizerProcessorOptions = {}) {
  return consumerOf(
    'featurizer',
    w,
    (t) => t.sensorReadings,
    (o) => new FeaturizerProcessor(o),
    options,
    (t) => t.featurizerState,
  );
}

/** The drift detector as a consumer: features in, drift events (and dead letters) out. */
export function driftDetectorConsumer(w: ConsumerWiring, options: DriftDetectorOptions = {}) {
  return consumerOf(
    'drift-detector',
    w,
    (t) => t.features,
    (o) => new DriftDetectorProcessor(o),
    options,
    (t) => t.detectorState,
  );
}

/** The predictor: features in, predictions, concept-drift events (and dead letters) out. */
export function predictorConsumer(w: ConsumerWiring, options: Omit<PredictorOptions, 'topics'>) {
  return consumerOf(
    'predictor',
    w,
    (t) => t.features,
    (o) => new PredictorProcessor(o),
    options,
  );
}

/** The deployer: model events in, deployment events out. */
export function deployerConsumer(w: ConsumerWiring, options: Omit<DeployerOptions, 'topics'>) {
  return consumerOf(
    'deployer',
    w,
    (t) => t.modelEvents,
    (o) => new DeployerProcessor(o),
    options,
  );
}
