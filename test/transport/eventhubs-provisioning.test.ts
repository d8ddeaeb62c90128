import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driftDetectorConsumer } from '../../consumers/index.ts';
import { TransportError } from '../../src/errors.ts';
import { namespacedTopics, topicSpecs } from '../../src/topics.ts';
import { EventHubsTransport } from '../../src/transport/eventhubs/eventhubs-transport.ts';
import { ArmHubProvisioner, provisionerFromEnv } from '../../src/transport/eventhubs/provisioner.ts';
import { FakeEventHubsArm } from '../eventhubs/fake-arm.ts';
import { EventHubsPeer } from '../eventhubs/peer.ts';
import { requireAzurite } from '../setup/services.ts';
import { selfSignedCert } from '../setup/tls.ts';
import { waitFor } from '../support/wait.ts';

const TOKEN = 'arm-token-for-tests';

/**
 * issue 7: hubs and consumer groups are control-plane resources. With a resource group configured,
 * `ensureTopics` (`topics create`) makes them through ARM (@azure/arm-eventhub against a local ARM
 * that makes them in the peer); the peer here refuses unknown consumer groups, as the service does.
 */
describe('Event Hubs provisioning through Azure Resource Manager', () => {
  const peer = new EventHubsPeer({ strictConsumerGroups: true });
  const arm = new FakeEventHubsArm(peer, TOKEN);
  const tls = selfSignedCert();
  beforeAll(async () => {
    await peer.start();
    await arm.start(tls);
  });
  afterAll(async () => {
    await arm.close();
    await peer.stop();
  });

  const transport = (withArm: boolean) =>
    new EventHubsTransport({
      connectionString: peer.connectionString(),
      checkpoint: { connectionString: requireAzurite(), container: `p-${randomUUID()}` },
      readConsumerGroup: '$default',
      maxWaitMs: 200,
      loadBalancingIntervalMs: 1000,
      ownershipExpirationMs: 5000,
      ...(withArm
        ? {
            provisioner: new ArmHubProvisioner({
              subscriptionId: 'sub-1',
              resourceGroup: 'rg-1',
              namespace: 'ns-1',
              credential: { getToken: async () => ({ token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }) },
              endpoint: arm.url,
              tlsCa: tls.cert,
            }),
          }
        : {}),
    });

  it('creates the missing hubs with their partition counts and the consumer groups that read them', async () => {
    const topics = namespacedTopics(`a-${randomUUID()}`);
    const specs = topicSpecs(2, topics);
    const checker = transport(false);
    await expect(checker.ensureTopics(specs)).rejects.toThrow(TransportError);
    await checker.close();

    const t = transport(true);
    try {
      await t.ensureTopics(specs);
      for (const spec of specs) expect(peer.partitionCount(spec.topic), spec.topic).toBe(spec.partitions);
      expect(peer.consumerGroups(topics.features).sort()).toEqual(
        ['$default', 'activity-tracking-drift-detector', 'activity-tracking-predictor'].sort(),
      );
      expect(peer.consumerGroups(topics.sensorReadings)).toContain('activity-tracking-featurizer');
      const puts = arm.requests.filter((r) => r.method === 'PUT');
      expect(
        puts.find((r) => r.path.endsWith(`/eventhubs/${encodeURIComponent(topics.features)}`))?.body,
      ).toMatchObject({
        properties: { partitionCount: 2, messageRetentionInDays: 1 },
      });
      expect(
        puts.every((r) =>
          r.path.startsWith('/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.EventHub/namespaces/ns-1/'),
        ),
      ).toBe(true);

      // A second run changes nothing: every resource is read, none written again.
      const before = arm.requests.filter((r) => r.method === 'PUT').length;
      await t.ensureTopics(specs);
      expect(arm.requests.filter((r) => r.method === 'PUT').length).toBe(before);

      // The detector's default consumer group now exists, so it consumes.
      const { consumer } = driftDetectorConsumer({ transport: t, topics });
      await consumer.start();
      await waitFor(() => consumer.assignments().length === 2, 'the detector to own both partitions');
      await consumer.stop();
    } finally {
      await t.close();
    }
  });

  it('reads its settings from the environment', () => {
    expect(provisionerFromEnv({}, 'ns-1.servicebus.windows.net')).toBeUndefined();
    expect(
      provisionerFromEnv({ EVENTHUBS_RESOURCE_GROUP: 'rg', AZURE_SUBSCRIPTION_ID: 's' }, 'ns-1.servicebus.windows.net'),
    ).toBeInstanceOf(ArmHubProvisioner);
    expect(() => provisionerFromEnv({ EVENTHUBS_RESOURCE_GROUP: 'rg' }, 'ns-1.servicebus.windows.net')).toThrow(
      /set EVENTHUBS_SUBSCRIPTION_ID/,
    );
  });
});
