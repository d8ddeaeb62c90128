import type { Logger } from '../src/log/logger.ts';
import type { PipelineMetrics } from '../src/metrics/metrics.ts';
import { StreamConsumer } from '../src/pipeline/stream-consumer.ts';
import { TOPICS, type TopicNames } from '../src/topics.ts';
import type { Transport } from '../src/transport/types.ts';
import { type DriftDetectorOptions, DriftDetectorProcessor } from './drift-detector/processor.ts';
import { FeaturizerProcessor, type FeaturizerProcessorOptions } from './featurizer/processor.ts';

export interface ConsumerWiring {
  transport: Transport;
  logger?: Logger;
  metrics?: PipelineMetrics;
  /** @defaultValue the component's name prefixed with `activity-tracking-` */
  groupId?: string;
  /** @defaultValue TOPICS */
  topics?: TopicNames;
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

/** The featurizer as a consumer: sensor-readings in, features (and dead letters) out. */
export function featurizerConsumer(w: ConsumerWiring, options: FeaturizerProcessorOptions = {}) {
  const topics = w.topics ?? TOPICS;
  const processor = new FeaturizerProcessor({
    topics,
    ...options,
    ...(w.logger ? { logger: w.logger } : {}),
    ...(w.metrics ? { metrics: w.metrics } : {}),
  });
  return {
    processor,
    consumer: new StreamConsumer({ ...wiring('featurizer', w), topics: [topics.sensorReadings], processor }),
  };
}

/** The drift detector as a consumer: features in, drift events (and dead letters) out. */
export function driftDetectorConsumer(w: ConsumerWiring, options: DriftDetectorOptions = {}) {
  const topics = w.topics ?? TOPICS;
  const processor = new DriftDetectorProcessor({
    topics,
    ...options,
    ...(w.logger ? { logger: w.logger } : {}),
    ...(w.metrics ? { metrics: w.metrics } : {}),
  });
  return {
    processor,
    consumer: new StreamConsumer({ ...wiring('drift-detector', w), topics: [topics.features], processor }),
  };
}
