import {
  type CheckpointStore,
  EventHubConsumerClient,
  type EventHubConsumerClientOptions,
  EventHubProducerClient,
  type ReceivedEventData,
  RetryMode,
  type RetryOptions,
} from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { ContainerClient } from '@azure/storage-blob';
import { InvalidOptionError } from '../../errors.ts';
import type { ConsumedRecord, Headers } from '../types.ts';
import { EVENTHUBS_ENV, type EventHubsOptions } from './options.ts';

/**
 * The property that carries a record's key when it is sent to an explicit
 * partition: Event Hubs refuses a partition key and a partition id together.
 */
export const KEY_PROPERTY = 'activity-tracking-key';

/**
 * Retries of every SDK operation on a retryable error (a dropped connection, a busy service): by
 * default about a minute in all, growing from half a second. The SDK's default waits 30 s between three tries, which
 * stalls a stream for a minute and a half on the first blip.
 */
function retryOptions(maxRetries = 8): RetryOptions {
  return { maxRetries, retryDelayInMs: 500, maxRetryDelayInMs: 15_000, mode: RetryMode.Exponential };
}

/**
 * Makes the SDK's clients for one namespace: by connection string, or by
 * namespace and a Microsoft Entra credential (DefaultAzureCredential unless one
 * is given). Secrets stay in here; nothing of the options is ever logged.
 */
export class ClientFactory {
  #credential: TokenCredential | undefined;
  #store: Promise<CheckpointStore> | undefined;

  constructor(
    readonly options: EventHubsOptions,
    credential?: TokenCredential,
  ) {
    this.#credential = credential;
  }

  #tokenCredential(): TokenCredential {
    this.#credential ??= new DefaultAzureCredential();
    return this.#credential;
  }

  producer(hub: string): EventHubProducerClient {
    const { connectionString, fullyQualifiedNamespace } = this.options;
    return connectionString
      ? new EventHubProducerClient(connectionString, hub, { retryOptions: retryOptions(this.options.maxRetries) })
      : new EventHubProducerClient(fullyQualifiedNamespace!, hub, this.#tokenCredential(), {
          retryOptions: retryOptions(this.options.maxRetries),
        });
  }

  consumer(
    group: string,
    hub: string,
    store?: CheckpointStore,
    options: EventHubConsumerClientOptions = {},
  ): EventHubConsumerClient {
    const { connectionString, fullyQualifiedNamespace } = this.options;
    const clientOptions = { retryOptions: retryOptions(this.options.maxRetries), ...options };
    if (connectionString)
      return store
        ? new EventHubConsumerClient(group, connectionString, hub, store, clientOptions)
        : new EventHubConsumerClient(group, connectionString, hub, clientOptions);
    return store
      ? new EventHubConsumerClient(group, fullyQualifiedNamespace!, hub, this.#tokenCredential(), store, clientOptions)
      : new EventHubConsumerClient(group, fullyQualifiedNamespace!, hub, this.#tokenCredential(), clientOptions);
  }

  /** The blob checkpoint store (container created when missing), shared by every subscription. */
  checkpointStore(): Promise<CheckpointStore> {
    const blob = this.options.checkpoint;
    if (!blob)
      throw new InvalidOptionError(
        `subscribing on Event Hubs needs a checkpoint store: set ${EVENTHUBS_ENV.checkpointConnectionString} (or ${EVENTHUBS_ENV.checkpointAccountUrl}) to an Azure Storage account`,
      );
    this.#store ??= (async () => {
      const container = blob.connectionString
        ? new ContainerClient(blob.connectionString, blob.container)
        : new ContainerClient(`${blob.accountUrl!.replace(/\/+$/, '')}/${blob.container}`, this.#tokenCredential());
      await container.createIfNotExists();
      return new BlobCheckpointStore(container);
    })();
    this.#store.catch(() => {
      this.#store = undefined;
    });
    return this.#store;
  }
}

function toHeaders(properties: Record<string, unknown> | undefined): { headers: Headers; key: string | undefined } {
  const headers: Headers = {};
  let key: string | undefined;
  if (properties)
    for (const name in properties) {
      const value = properties[name];
      if (value === undefined || value === null) continue;
      if (name === KEY_PROPERTY) key = String(value);
      else headers[name] = typeof value === 'string' ? value : String(value);
    }
  return { headers, key };
}

/** A received event as a record of the port: the sequence number is the offset. */
export function toRecord(topic: string, partition: number, event: ReceivedEventData): ConsumedRecord {
  const { headers, key } = toHeaders(event.properties);
  const body = event.body as unknown;
  return {
    topic,
    partition,
    offset: event.sequenceNumber,
    key: event.partitionKey ?? key ?? null,
    value: Buffer.isBuffer(body)
      ? body
      : body instanceof Uint8Array
        ? Buffer.from(body)
        : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body ?? null)),
    headers,
    timestamp: event.enqueuedTimeUtc.getTime(),
  };
}
