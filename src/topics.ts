import type { TopicSpec } from './transport/types.ts';

/** The topics of the system: the single source of truth for their names. */
export const TOPICS = {
  sensorReadings: 'sensor-readings',
  features: 'features',
  driftEvents: 'drift-events',
  modelEvents: 'model-events',
  deploymentEvents: 'deployment-events',
  predictions: 'predictions',
  deadLetter: 'dead-letter',
  detectorState: 'detector-state',
  featurizerState: 'featurizer-state',
} as const;

export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

/**
 * How the project creates its topics. Per-device topics are keyed by device,
 * so their partition count bounds how many instances of a consumer group
 * share the work. State changelogs are compacted (newest snapshot per key).
 */
export function topicSpecs(partitions = 6): TopicSpec[] {
  return [
    { topic: TOPICS.sensorReadings, partitions },
    { topic: TOPICS.features, partitions },
    { topic: TOPICS.driftEvents, partitions: 1 },
    { topic: TOPICS.modelEvents, partitions: 1 },
    { topic: TOPICS.deploymentEvents, partitions: 1 },
    { topic: TOPICS.predictions, partitions },
    { topic: TOPICS.deadLetter, partitions: 1 },
    { topic: TOPICS.detectorState, partitions, compacted: true },
    { topic: TOPICS.featurizerState, partitions, compacted: true },
  ];
}
