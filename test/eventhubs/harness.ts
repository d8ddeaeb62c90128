import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import {
  EventHubsTransport,
  type EventHubsTransportOptions,
} from '../../src/transport/eventhubs/eventhubs-transport.ts';
import { requireAzurite } from '../setup/services.ts';
import { EventHubsPeer } from './peer.ts';

/**
 * A local Event Hubs peer for the suites of one test file (started before, stopped
 * after), and the transport factory the suites use: the real SDK against the peer,
 * checkpoints in Azurite, hubs made on demand by the peer (what ARM does in Azure).
 */
export function usePeer(): {
  peer: EventHubsPeer;
  transport: (overrides?: Partial<EventHubsTransportOptions>) => Promise<EventHubsTransport>;
} {
  const peer = new EventHubsPeer();
  beforeAll(async () => {
    await peer.start();
  });
  afterAll(async () => {
    await peer.stop();
  });
  return {
    peer,
    transport: async (overrides = {}) =>
      new EventHubsTransport({
        connectionString: peer.connectionString(),
        checkpoint: { connectionString: requireAzurite(), container: `t-${randomUUID()}` },
        readConsumerGroup: '$default',
        maxWaitMs: 200,
        loadBalancingIntervalMs: 1000,
        ownershipExpirationMs: 5000,
        provisioner: { ensureHub: async (spec) => peer.createHub(spec.topic, spec.partitions ?? 3) },
        ...overrides,
      }),
  };
}
