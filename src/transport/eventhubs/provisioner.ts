import { EventHubManagementClient } from '@azure/arm-eventhub';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { InvalidOptionError, TransportError } from '../../errors.ts';
import { type Logger, silentLogger } from '../../log/logger.ts';
import type { TopicSpec } from '../types.ts';

/**
 * Makes event hubs. The data plane cannot (in Azure that is the control plane's
 * job), so the transport takes one of these to create hubs; without one it only
 * checks that they exist.
 */
export interface HubProvisioner {
  ensureHub(spec: TopicSpec): Promise<void>;
}

const ARM_ENV = {
  subscriptionId: 'EVENTHUBS_SUBSCRIPTION_ID',
  resourceGroup: 'EVENTHUBS_RESOURCE_GROUP',
  endpoint: 'EVENTHUBS_ARM_ENDPOINT',
} as const;

export interface ArmProvisionerOptions {
  subscriptionId: string;
  resourceGroup: string;
  /** The namespace's name: the first label of `<name>.servicebus.windows.net`. */
  namespace: string;
  /** @defaultValue DefaultAzureCredential */
  credential?: TokenCredential;
  /** ARM endpoint (tests point it at a local ARM). @defaultValue https://management.azure.com */
  endpoint?: string;
  /** Extra CA certificate to trust for `endpoint`. */
  tlsCa?: string;
  /** Days events are kept in the hubs it creates (1 to 7 on Standard). @defaultValue 1 */
  retentionDays?: number;
  logger?: Logger;
}

/** ARM's "not found", in the shape @azure/core-rest-pipeline reports it. */
function notFound(err: unknown): boolean {
  return (err as { statusCode?: number }).statusCode === 404;
}

/**
 * Creates missing event hubs, and the consumer groups that read them, through
 * Azure Resource Manager (@azure/arm-eventhub): what `az eventhubs eventhub create`
 * and `consumer-group create` do. An existing hub is left as it is (its partition
 * count cannot change on Standard); an existing consumer group too.
 */
export class ArmHubProvisioner implements HubProvisioner {
  readonly #client: EventHubManagementClient;
  readonly #options: ArmProvisionerOptions;
  readonly #logger: Logger;

  constructor(options: ArmProvisionerOptions) {
    for (const key of ['subscriptionId', 'resourceGroup', 'namespace'] as const)
      if (!options[key]) throw new InvalidOptionError(`creating event hubs needs ${key}`);
    this.#options = options;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'eventhubs-provisioner' });
    this.#client = new EventHubManagementClient(
      options.credential ?? new DefaultAzureCredential(),
      options.subscriptionId,
      {
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        ...(options.tlsCa ? { tlsOptions: { ca: options.tlsCa } } : {}),
      },
    );
  }

  async ensureHub(spec: TopicSpec): Promise<void> {
    const { resourceGroup, namespace } = this.#options;
    try {
      try {
        await this.#client.eventHubs.get(resourceGroup, namespace, spec.topic);
      } catch (err) {
        if (!notFound(err)) throw err;
        await this.#client.eventHubs.createOrUpdate(resourceGroup, namespace, spec.topic, {
          partitionCount: spec.partitions ?? 3,
          messageRetentionInDays: this.#options.retentionDays ?? 1,
        });
        this.#logger.info({ hub: spec.topic, partitions: spec.partitions ?? 3 }, 'event hub created');
      }
      for (const group of spec.consumerGroups ?? []) {
        try {
          await this.#client.consumerGroups.get(resourceGroup, namespace, spec.topic, group);
        } catch (err) {
          if (!notFound(err)) throw err;
          await this.#client.consumerGroups.createOrUpdate(resourceGroup, namespace, spec.topic, group, {});
          this.#logger.info({ hub: spec.topic, group }, 'consumer group created');
        }
      }
    } catch (err) {
      const e = err as { statusCode?: number; message?: string };
      throw new TransportError(
        `creating event hub "${spec.topic}" in ${namespace} (resource group ${resourceGroup}) failed: ${e.message ?? String(err)}`,
        { cause: err, retriable: e.statusCode === 429 || (e.statusCode ?? 0) >= 500, context: { topic: spec.topic } },
      );
    }
  }
}

/**
 * The ARM provisioner the environment asks for: with EVENTHUBS_RESOURCE_GROUP set, hubs and consumer
 * groups are created in that resource group (subscription from EVENTHUBS_SUBSCRIPTION_ID, else
 * AZURE_SUBSCRIPTION_ID); without it, none (the transport only checks).
 */
export function provisionerFromEnv(
  env: NodeJS.ProcessEnv,
  namespaceHost: string,
  logger?: Logger,
): ArmHubProvisioner | undefined {
  const resourceGroup = env[ARM_ENV.resourceGroup];
  if (!resourceGroup) return undefined;
  const subscriptionId = env[ARM_ENV.subscriptionId] || env.AZURE_SUBSCRIPTION_ID;
  if (!subscriptionId)
    throw new InvalidOptionError(
      `${ARM_ENV.resourceGroup} is set, so event hubs are created through ARM: set ${ARM_ENV.subscriptionId} (or AZURE_SUBSCRIPTION_ID) too`,
    );
  return new ArmHubProvisioner({
    subscriptionId,
    resourceGroup,
    namespace: namespaceHost.split('.')[0],
    ...(env[ARM_ENV.endpoint] ? { endpoint: env[ARM_ENV.endpoint] } : {}),
    ...(logger ? { logger } : {}),
  });
}
