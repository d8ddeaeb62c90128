/**
 * An Event Hubs client authenticated with a Microsoft Entra ID token credential, in its own process so
 * that NODE_EXTRA_CA_CERTS (read at start-up) can make it trust the test peer's certificate.
 * Arguments: namespace (host:port), hub, the token the credential hands out. Prints one JSON line.
 */
import type { AccessToken } from '@azure/identity';
import { EventHubsTransport } from '../../src/transport/eventhubs/eventhubs-transport.ts';

const [namespace, hub, token] = process.argv.slice(2);
const scopes: string[] = [];
const transport = new EventHubsTransport({
  fullyQualifiedNamespace: namespace,
  credential: {
    getToken: async (scope: string | string[]): Promise<AccessToken> => {
      scopes.push(...[scope].flat());
      return { token, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  },
  readConsumerGroup: '$default',
  maxWaitMs: 200,
  loadBalancingIntervalMs: 1000,
  ownershipExpirationMs: 5000,
  // A refused token is retried like any retryable error; one retry keeps the refusal test short.
  maxRetries: 1,
});
try {
  const producer = await transport.producer();
  await producer.publish(['a', 'b', 'c'].map((v) => ({ topic: hub, key: 'phone-1', value: Buffer.from(v) })));
  const ends = await transport.endOffsets(hub);
  const values = (await transport.readRange(hub, 0, 0, ends[0] - 1)).map((r) => r.value.toString());
  process.stdout.write(`${JSON.stringify({ ok: true, ends, values, scopes: [...new Set(scopes)] })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ ok: false, error: (err as Error).message })}\n`);
} finally {
  await transport.close();
}
