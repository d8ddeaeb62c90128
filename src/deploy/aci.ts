import { type ContainerGroup, ContainerInstanceManagementClient } from '@azure/arm-containerinstance';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { DeploymentError, InvalidOptionError } from '../errors.ts';
import { type Logger, silentLogger } from '../log/logger.ts';
import type { ModelRef } from '../serving/model-source.ts';
import { type Deployment, type DeployTarget, waitReady } from './types.ts';

export interface AciTargetOptions {
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  /** Serving image in ACR, e.g. `myregistry.azurecr.io/activity-serving:1.0`. */
  image: string;
  /** Registry login: username/password, or `identity` (a user-assigned identity's resource id with AcrPull). */
  registry?: { server: string; username?: string; password?: string; identity?: string };
  /** API key the container requires (it binds 0.0.0.0). */
  apiKey: string;
  /** @defaultValue 1 */
  cpu?: number;
  /** @defaultValue 1.5 */
  memoryInGB?: number;
  /** @defaultValue 8080 */
  port?: number;
  /** Container group name prefix (a DNS label too). @defaultValue 'activity-serving' */
  namePrefix?: string;
  /** Extra container environment (e.g. MODEL_DIR, MLFLOW_TRACKING_URI). */
  env?: Record<string, string>;
  /** @defaultValue DefaultAzureCredential */
  credential?: TokenCredential;
  /** ARM endpoint and TLS settings (tests point these at a local ARM). @defaultValue https://management.azure.com */
  endpoint?: string;
  tlsCa?: string;
  /** LRO polling interval. @defaultValue the SDK's (or the server's Retry-After) */
  pollIntervalMs?: number;
  /** @defaultValue 180000 */
  readyTimeoutMs?: number;
  logger?: Logger;
}

const REQUIRED_ENV = {
  subscriptionId: 'AZURE_SUBSCRIPTION_ID',
  resourceGroup: 'ACI_RESOURCE_GROUP',
  location: 'ACI_LOCATION',
  image: 'ACI_IMAGE',
  apiKey: 'SERVING_API_KEY',
} as const;

/** Options from the documented environment variables (docs/deployment.md). */
export function aciOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): AciTargetOptions {
  const missing = Object.values(REQUIRED_ENV).filter((k) => !env[k]);
  if (missing.length) throw new InvalidOptionError(`the ACI target needs ${missing.join(', ')} (docs/deployment.md)`);
  const o: AciTargetOptions = {
    subscriptionId: env.AZURE_SUBSCRIPTION_ID!,
    resourceGroup: env.ACI_RESOURCE_GROUP!,
    location: env.ACI_LOCATION!,
    image: env.ACI_IMAGE!,
    apiKey: env.SERVING_API_KEY!,
  };
  if (env.ACR_SERVER)
    o.registry = {
      server: env.ACR_SERVER,
      ...(env.ACR_USERNAME ? { username: env.ACR_USERNAME } : {}),
      ...(env.ACR_PASSWORD ? { password: env.ACR_PASSWORD } : {}),
      ...(env.ACR_IDENTITY ? { identity: env.ACR_IDENTITY } : {}),
    };
  if (env.ACI_CPU) o.cpu = Number(env.ACI_CPU);
  if (env.ACI_MEMORY_GB) o.memoryInGB = Number(env.ACI_MEMORY_GB);
  if (env.ACI_PORT) o.port = Number(env.ACI_PORT);
  if (env.ACI_NAME_PREFIX) o.namePrefix = env.ACI_NAME_PREFIX;
  if (env.MODEL_DIR) o.env = { MODEL_DIR: env.MODEL_DIR };
  return o;
}

/**
 * One container group per model version, all from the same serving image;
 * the version is the container's environment. A new group takes over only
 * after its `/readyz` answers; then the previous group is deleted. A group
 * that fails to provision or to become ready is deleted and the previous one
 * keeps serving.
 */
export class AciTarget implements DeployTarget {
  readonly kind = 'aci';
  readonly #o: AciTargetOptions & { cpu: number; memoryInGB: number; port: number; namePrefix: string };
  readonly #client: ContainerInstanceManagementClient;
  readonly #log: Logger;
  #current: Deployment | null = null;

  constructor(options: AciTargetOptions) {
    for (const k of Object.keys(REQUIRED_ENV) as (keyof typeof REQUIRED_ENV)[])
      if (!options[k]) throw new InvalidOptionError(`AciTarget needs ${k} (env ${REQUIRED_ENV[k]})`);
    this.#o = { cpu: 1, memoryInGB: 1.5, port: 8080, namePrefix: 'activity-serving', ...options };
    const { cpu, memoryInGB, port, registry } = this.#o;
    if (!(cpu > 0) || !(memoryInGB > 0)) throw new InvalidOptionError('ACI cpu and memoryInGB must be positive');
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidOptionError(`bad ACI port ${port}`);
    if (registry && !registry.identity && !(registry.username && registry.password))
      throw new InvalidOptionError('ACR access needs ACR_USERNAME + ACR_PASSWORD or ACR_IDENTITY (managed identity)');
    if (options.apiKey.length < 16) throw new InvalidOptionError('SERVING_API_KEY must be at least 16 characters');
    this.#client = new ContainerInstanceManagementClient(
      options.credential ?? new DefaultAzureCredential(),
      options.subscriptionId,
      {
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        ...(options.tlsCa ? { tlsOptions: { ca: options.tlsCa } } : {}),
      },
    );
    this.#log = (options.logger ?? silentLogger).child({ component: 'deploy-aci' });
  }

  current(): Deployment | null {
    return this.#current;
  }

  /** Adopts a group already serving (e.g. after a restart of the deployer). */
  adopt(deployment: Deployment): void {
    this.#current = deployment;
  }

  groupName(ref: ModelRef): string {
    const raw = `${this.#o.namePrefix}-${ref.name}-v${ref.version}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
    return raw.slice(0, 63).replace(/-+$/, '');
  }

  containerGroup(ref: ModelRef): ContainerGroup {
    const { image, registry, cpu, memoryInGB, port, location, apiKey } = this.#o;
    const name = this.groupName(ref);
    const env = {
      ...this.#o.env,
      MODEL_NAME: ref.name,
      MODEL_VERSION: String(ref.version),
      SERVING_PORT: String(port),
    };
    return {
      location,
      osType: 'Linux',
      restartPolicy: 'Always',
      containers: [
        {
          name: 'serving',
          image,
          resources: { requests: { cpu, memoryInGB } },
          ports: [{ port, protocol: 'TCP' }],
          environmentVariables: [
            ...Object.entries(env).map(([n, value]) =>
              isSecret(n, value) ? { name: n, secureValue: value } : { name: n, value },
            ),
            { name: 'SERVING_API_KEY', secureValue: apiKey },
          ],
        },
      ],
      ipAddress: { type: 'Public', ports: [{ port, protocol: 'TCP' }], dnsNameLabel: name },
      ...(registry?.identity
        ? {
            identity: { type: 'UserAssigned', userAssignedIdentities: { [registry.identity]: {} } },
            imageRegistryCredentials: [{ server: registry.server, identity: registry.identity }],
          }
        : registry
          ? {
              imageRegistryCredentials: [
                { server: registry.server, username: registry.username!, password: registry.password! },
              ],
            }
          : {}),
      tags: { 'activity-tracking/model': ref.name, 'activity-tracking/version': String(ref.version) },
    };
  }

  async deploy(ref: ModelRef): Promise<Deployment> {
    const name = this.groupName(ref);
    const rg = this.#o.resourceGroup;
    const poll = this.#o.pollIntervalMs === undefined ? {} : { updateIntervalInMs: this.#o.pollIntervalMs };
    try {
      const group = await this.#client.containerGroups.beginCreateOrUpdateAndWait(
        rg,
        name,
        this.containerGroup(ref),
        poll,
      );
      if (group.provisioningState !== 'Succeeded')
        throw new DeploymentError(`container group ${name} provisioning ended ${group.provisioningState}`);
      const host = group.ipAddress?.fqdn || group.ipAddress?.ip;
      if (!host) throw new DeploymentError(`container group ${name} has neither FQDN nor IP`);
      const endpoint = `http://${host}:${this.#o.port}`;
      if (!(await waitReady(endpoint, this.#o.readyTimeoutMs ?? 180_000, 500)))
        throw new DeploymentError(`container group ${name} did not become ready at ${endpoint}`);
      const previous = this.#current;
      this.#current = { model: { ...ref }, endpoint, id: name };
      this.#log.info({ model: ref, endpoint }, 'switched');
      if (previous && previous.id !== name) await this.#delete(previous.id);
      return this.#current;
    } catch (err) {
      if (this.#current?.id !== name) await this.#delete(name);
      const rolledBack = this.#current !== null;
      this.#log.warn({ err, model: ref }, 'ACI deploy failed');
      throw new DeploymentError(`deploying ${ref.name} v${ref.version} to ACI failed: ${(err as Error).message}`, {
        cause: err,
        context: { model: ref, rolledBack, keptVersion: this.#current?.model.version ?? null },
      });
    }
  }

  async #delete(name: string): Promise<void> {
    try {
      const poll = this.#o.pollIntervalMs === undefined ? {} : { updateIntervalInMs: this.#o.pollIntervalMs };
      await this.#client.containerGroups.beginDeleteAndWait(this.#o.resourceGroup, name, poll);
    } catch (err) {
      // A group left behind costs money but serves nothing; report it, do not fail the deploy.
      this.#log.error({ err, group: name }, 'could not delete container group');
    }
  }

  /** Leaves the serving group running: stopping a deployer must not take production down. */
  async close(): Promise<void> {}
}

/**
 * Environment that must go to ACI as `secureValue`: a plain `value` is readable by anyone who can read the
 * container group's properties. Secret by name (passwords, tokens, keys, connection strings) or, for a
 * URI such as MLFLOW_TRACKING_URI, by carrying credentials in it.
 */
function isSecret(name: string, value: string): boolean {
  if (/(PASSWORD|TOKEN|SECRET|_KEY|CONNECTION_STRING)$/i.test(name)) return true;
  try {
    const url = new URL(value);
    return url.username !== '' || url.password !== '';
  } catch {
    return false;
  }
}
