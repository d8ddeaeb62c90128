import { InvalidOptionError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { EmbeddedLog } from './embedded/log.ts';
import { EventHubsTransport } from './eventhubs/eventhubs-transport.ts';
import { eventHubsOptionsFromEnv, namespaceOf } from './eventhubs/options.ts';
import { provisionerFromEnv } from './eventhubs/provisioner.ts';
import { KafkaTransport } from './kafka/kafka-transport.ts';
import { type KafkaOptions, kafkaOptionsFromEnv } from './kafka/options.ts';
import type { Transport } from './types.ts';

export type { Transport } from './types.ts';

export const TRANSPORT_KINDS = ['embedded', 'kafka', 'eventhubs'] as const;

export interface CreateTransportOptions {
  /** @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Kafka settings used where the environment sets none (a one-shot command's shorter retries). */
  kafkaDefaults?: Partial<KafkaOptions>;
}

/** Makes the transport named by `kind`, configured from the environment (docs/configuration.md). */
export function createTransport(kind: string, options: CreateTransportOptions = {}): Transport {
  switch (kind) {
    case 'embedded':
      return new EmbeddedLog(options.logger ? { logger: options.logger } : {});
    case 'kafka':
      return new KafkaTransport({
        ...kafkaOptionsFromEnv(options.env, options.kafkaDefaults),
        ...(options.logger ? { logger: options.logger } : {}),
      });
    case 'eventhubs': {
      const eventHubs = eventHubsOptionsFromEnv(options.env);
      const provisioner = provisionerFromEnv(
        options.env ?? process.env,
        eventHubs.connectionString ? namespaceOf(eventHubs.connectionString) : eventHubs.fullyQualifiedNamespace!,
        options.logger,
      );
      return new EventHubsTransport({
        ...eventHubs,
        ...(provisioner ? { provisioner } : {}),
        ...(options.logger ? { logger: options.logger } : {}),
      });
    }
    default:
      throw new InvalidOptionError(`unknown transport "${kind}"; choose one of ${TRANSPORT_KINDS.join(', ')}`);
  }
}
