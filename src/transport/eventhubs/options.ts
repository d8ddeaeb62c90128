import { InvalidOptionError } from '../../errors.ts';
import { namespaceOf, parseConnectionString } from '../connection-string.ts';

export { namespaceOf } from '../connection-string.ts';

/**
 * The environment variables the Event Hubs transport reads (docs/eventhubs.md,
 * docs/configuration.md).
 */
export const EVENTHUBS_ENV = {
  connectionString: 'EVENTHUBS_CONNECTION_STRING',
  namespace: 'EVENTHUBS_NAMESPACE',
  checkpointConnectionString: 'EVENTHUBS_CHECKPOINT_CONNECTION_STRING',
  checkpointAccountUrl: 'EVENTHUBS_CHECKPOINT_ACCOUNT_URL',
  checkpointContainer: 'EVENTHUBS_CHECKPOINT_CONTAINER',
  readConsumerGroup: 'EVENTHUBS_READ_CONSUMER_GROUP',
  maxWaitMs: 'EVENTHUBS_MAX_WAIT_MS',
  loadBalancingIntervalMs: 'EVENTHUBS_LOAD_BALANCING_INTERVAL_MS',
  ownershipExpirationMs: 'EVENTHUBS_OWNERSHIP_EXPIRATION_MS',
  maxRetries: 'EVENTHUBS_MAX_RETRIES',
} as const;

/** Where the consumer groups keep their checkpoints and partition ownership: one Azure Blob container. */
export interface CheckpointBlobOptions {
  /** A storage connection string (or Azurite's). Either this or `accountUrl`. */
  connectionString?: string;
  /** `https://<account>.blob.core.windows.net`, authenticated with the transport's credential. */
  accountUrl?: string;
  /** @defaultValue 'activity-tracking-checkpoints' (created when missing) */
  container: string;
}

export interface EventHubsOptions {
  /**
   * A namespace-level connection string (`Endpoint=sb://<ns>.servicebus.windows.net/;SharedAccessKeyName=…;SharedAccessKey=…`).
   * Each topic is an event hub of that namespace. Either this or `fullyQualifiedNamespace`.
   */
  connectionString?: string;
  /** `<ns>.servicebus.windows.net`, authenticated with DefaultAzureCredential (@azure/identity). */
  fullyQualifiedNamespace?: string;
  /** Checkpoint store of the consumer groups; required to subscribe. */
  checkpoint?: CheckpointBlobOptions;
  /**
   * Consumer group that range reads (`readRange`, the retrainer's look back, state restores) use.
   * No subscribing group may use it: a load-balanced processor holds its partitions with an owner
   * level, which shuts out plain readers of the same group. @defaultValue '$default'
   */
  readConsumerGroup: string;
  /** How long a receive waits to fill a batch before handing over what it has. @defaultValue 500 */
  maxWaitMs: number;
  /** How often a subscriber renews its partition ownership and balances the load. @defaultValue 10000 */
  loadBalancingIntervalMs: number;
  /** Ownership not renewed for this long is up for grabs (an instance that died). @defaultValue 60000 */
  ownershipExpirationMs: number;
  /**
   * Retries of an SDK operation after a retryable error, with a pause growing from 0.5 s to 15 s
   * (about a minute in all with the default). @defaultValue 8
   */
  maxRetries?: number;
}

const CHECKPOINT_CONTAINER = 'activity-tracking-checkpoints';

/** Validates options at the door (STYLE habit 4); the message says how to fix a bad combination. */
export function validateEventHubsOptions(options: EventHubsOptions): EventHubsOptions {
  const { connectionString, fullyQualifiedNamespace } = options;
  if (!connectionString === !fullyQualifiedNamespace)
    throw new InvalidOptionError(
      `Event Hubs needs exactly one of a connection string (${EVENTHUBS_ENV.connectionString}) or a namespace (${EVENTHUBS_ENV.namespace}, authenticated with DefaultAzureCredential)`,
    );
  if (connectionString) {
    namespaceOf(connectionString);
    const parts = parseConnectionString(connectionString);
    if (parts.has('entitypath'))
      throw new InvalidOptionError(
        'the Event Hubs connection string names one event hub (EntityPath); the transport reads and writes several hubs (one per topic), so use a namespace-level shared access policy',
      );
    if (!parts.has('sharedaccesskey') && !parts.has('sharedaccesssignature'))
      throw new InvalidOptionError(
        'the Event Hubs connection string has neither SharedAccessKey nor SharedAccessSignature; or set EVENTHUBS_NAMESPACE to use Microsoft Entra ID',
      );
  }
  if (fullyQualifiedNamespace && !/^[a-z0-9.-]+(:\d+)?$/i.test(fullyQualifiedNamespace))
    throw new InvalidOptionError(
      `${EVENTHUBS_ENV.namespace} must be a host name such as my-namespace.servicebus.windows.net, got "${fullyQualifiedNamespace}"`,
    );
  const cp = options.checkpoint;
  if (cp && !cp.connectionString === !cp.accountUrl)
    throw new InvalidOptionError(
      `the checkpoint store needs exactly one of ${EVENTHUBS_ENV.checkpointConnectionString} or ${EVENTHUBS_ENV.checkpointAccountUrl}`,
    );
  if (cp && !/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(cp.container))
    throw new InvalidOptionError(
      `checkpoint container "${cp.container}" is not a valid blob container name (3-63 lower-case letters, digits and single hyphens)`,
    );
  for (const [name, value] of [
    ['maxWaitMs', options.maxWaitMs],
    ['loadBalancingIntervalMs', options.loadBalancingIntervalMs],
    ['ownershipExpirationMs', options.ownershipExpirationMs],
  ] as const)
    if (!Number.isInteger(value) || value <= 0)
      throw new InvalidOptionError(`Event Hubs ${name} must be a positive integer, got ${value}`);
  if (options.maxRetries !== undefined && (!Number.isInteger(options.maxRetries) || options.maxRetries < 0))
    throw new InvalidOptionError(`Event Hubs maxRetries must be a non-negative integer, got ${options.maxRetries}`);
  if (options.ownershipExpirationMs <= options.loadBalancingIntervalMs)
    throw new InvalidOptionError(
      `Event Hubs ownership expiration (${options.ownershipExpirationMs} ms) must be longer than the load-balancing interval (${options.loadBalancingIntervalMs} ms), or live owners lose their partitions between renewals`,
    );
  return options;
}

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new InvalidOptionError(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

/** Reads the Event Hubs options from environment variables, with defaults. */
export function eventHubsOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): EventHubsOptions {
  const checkpointCs = env[EVENTHUBS_ENV.checkpointConnectionString];
  const checkpointUrl = env[EVENTHUBS_ENV.checkpointAccountUrl];
  const options: EventHubsOptions = {
    readConsumerGroup: env[EVENTHUBS_ENV.readConsumerGroup] || '$default',
    maxWaitMs: positive(env, EVENTHUBS_ENV.maxWaitMs, 500),
    loadBalancingIntervalMs: positive(env, EVENTHUBS_ENV.loadBalancingIntervalMs, 10_000),
    ownershipExpirationMs: positive(env, EVENTHUBS_ENV.ownershipExpirationMs, 60_000),
  };
  const retries = env[EVENTHUBS_ENV.maxRetries];
  if (retries !== undefined && retries !== '') options.maxRetries = Number(retries);
  if (env[EVENTHUBS_ENV.connectionString]) options.connectionString = env[EVENTHUBS_ENV.connectionString];
  if (env[EVENTHUBS_ENV.namespace]) options.fullyQualifiedNamespace = env[EVENTHUBS_ENV.namespace];
  if (checkpointCs || checkpointUrl)
    options.checkpoint = {
      ...(checkpointCs ? { connectionString: checkpointCs } : {}),
      ...(checkpointUrl ? { accountUrl: checkpointUrl } : {}),
      container: env[EVENTHUBS_ENV.checkpointContainer] || CHECKPOINT_CONTAINER,
    };
  return validateEventHubsOptions(options);
}
