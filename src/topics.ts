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
export type TopicNames = { readonly [K in keyof typeof TOPICS]: string };

/**
 * The same topics under a prefix (`<prefix>.sensor-readings`, ...): several
 * pipelines, or test suites, can share one cluster without sharing topics.
 */
export function namespacedTopics(prefix: string): TopicNames {
  return Object.fromEntries(Object.entries(TOPICS).map(([k, v]) => [k, `${prefix}.${v}`])) as unknown as TopicNames;
}

/** The consumer subcommands' default group ids (`--group` overrides), by the topic they read. */
const DEFAULT_GROUPS: { readonly [K in keyof typeof TOPICS]?: readonly string[] } = {
  sensorReadings: ['activity-tracking-featurizer'],
  features: ['activity-tracking-drift-detector', 'activity-tracking-predictor'],
  driftEvents: ['activity-tracking-retrainer'],
  modelEvents: ['activity-tracking-deployer'],
};

function groups(name: keyof typeof TOPICS): { consumerGroups?: string[] } {
  const list = DEFAULT_GROUPS[name];
  return list ? { consumerGroups: [...list] } : {};
}

/**
 * How the project creates its topics. Per-device topics are keyed by device,
 * so their partition count bounds how many instances of a consumer group
 * share the work. State changelogs are compacted (newest snapshot per key).
 */
export function topicSpecs(partitions = 6, topics: TopicNames = TOPICS): TopicSpec[] {
  return [
    { topic: topics.sensorReadings, partitions, ...groups('sensorReadings') },
    { topic: topics.features, partitions, ...groups('features') },
    { topic: topics.driftEvents, partitions: 1, ...groups('driftEvents') },
    { topic: topics.modelEvents, partitions: 1, ...groups('modelEvents') },
    { topic: topics.deploymentEvents, partitions: 1 },
    { topic: topics.predictions, partitions },
    { topic: topics.deadLetter, partitions: 1 },
    { topic: topics.detectorState, partitions, compacted: true },
    { topic: topics.featurizerState, partitions, compacted: true },
  ];
}
