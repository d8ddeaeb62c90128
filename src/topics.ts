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

/** A topic prefix: letters, digits, dots, dashes and underscores, what Kafka and Event Hubs both allow in a name. */
export const TOPIC_PREFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * One pipeline's topics and default consumer groups. A prefix (`TOPIC_PREFIX`, docs/configuration.md)
 * names both: `<prefix>.sensor-readings`, group `<prefix>.activity-tracking-featurizer`, so that
 * several pipelines share one cluster without sharing a topic or a group.
 */
export interface Namespace {
  readonly prefix: string | undefined;
  readonly topics: TopicNames;
  /** The default group id of a component (`featurizer`, `drift-detector`, ...). */
  group(component: string): string;
}

export function namespace(prefix?: string): Namespace {
  const head = prefix ? `${prefix}.` : '';
  return {
    prefix,
    topics: prefix ? namespacedTopics(prefix) : TOPICS,
    group: (component) => `${head}activity-tracking-${component}`,
  };
}

const DEFAULT_NAMESPACE = namespace();

/** The consumer subcommands' components, by the topic they read (their default groups, by `Namespace.group`). */
const READERS: { readonly [K in keyof typeof TOPICS]?: readonly string[] } = {
  sensorReadings: ['featurizer'],
  features: ['drift-detector', 'predictor'],
  driftEvents: ['retrainer'],
  modelEvents: ['deployer'],
};

function groups(name: keyof typeof TOPICS, ns: Namespace): { consumerGroups?: string[] } {
  const list = READERS[name];
  return list ? { consumerGroups: list.map((c) => ns.group(c)) } : {};
}

/**
 * How the project creates its topics. Per-device topics are keyed by device,
 * so their partition count bounds how many instances of a consumer group
 * share the work. State changelogs are compacted (newest snapshot per key).
 */
export function topicSpecs(
  partitions = 6,
  topics: TopicNames = TOPICS,
  ns: Namespace = DEFAULT_NAMESPACE,
): TopicSpec[] {
  return [
    { topic: topics.sensorReadings, partitions, ...groups('sensorReadings', ns) },
    { topic: topics.features, partitions, ...groups('features', ns) },
    { topic: topics.driftEvents, partitions: 1, ...groups('driftEvents', ns) },
    { topic: topics.modelEvents, partitions: 1, ...groups('modelEvents', ns) },
    { topic: topics.deploymentEvents, partitions: 1 },
    { topic: topics.predictions, partitions },
    { topic: topics.deadLetter, partitions: 1 },
    { topic: topics.detectorState, partitions, compacted: true },
    { topic: topics.featurizerState, partitions, compacted: true },
  ];
}
