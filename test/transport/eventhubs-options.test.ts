import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.ts';
import { EventHubsTransport } from '../../src/transport/eventhubs/eventhubs-transport.ts';
import { eventHubsOptionsFromEnv } from '../../src/transport/eventhubs/options.ts';
import { createTransport } from '../../src/transport/index.ts';
import { kafkaOptionsFromEnv, kafkaOptionsFromEventHubs } from '../../src/transport/kafka/options.ts';

const KEY = Buffer.from('not-a-real-key').toString('base64');
const CS = `Endpoint=sb://my-namespace.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${KEY}`;

describe('Kafka endpoint of Event Hubs', () => {
  it('derives the documented settings from a connection string', () => {
    const options = kafkaOptionsFromEventHubs(CS);
    expect(options.brokers).toEqual(['my-namespace.servicebus.windows.net:9093']);
    expect(options.ssl).toBe(true);
    expect(options.sasl).toEqual({ mechanism: 'plain', username: '$ConnectionString', password: CS });
  });

  it('keeps a hub-level connection string whole as the password', () => {
    const hubLevel = `${CS};EntityPath=features`;
    expect(kafkaOptionsFromEventHubs(hubLevel).sasl?.password).toBe(hubLevel);
  });

  it('is what the Kafka transport uses when EVENTHUBS_CONNECTION_STRING is set and KAFKA_BROKERS is not', () => {
    const options = kafkaOptionsFromEnv({ EVENTHUBS_CONNECTION_STRING: CS, KAFKA_CLIENT_ID: 'detector' });
    expect(options.brokers).toEqual(['my-namespace.servicebus.windows.net:9093']);
    expect(options.clientId).toBe('detector');
    expect(options.sasl?.username).toBe('$ConnectionString');
    expect(kafkaOptionsFromEnv({ EVENTHUBS_CONNECTION_STRING: CS, KAFKA_BROKERS: 'k1:9092' }).brokers).toEqual([
      'k1:9092',
    ]);
  });

  it('talks to the development emulator on its plain Kafka port', () => {
    const options = kafkaOptionsFromEventHubs(
      `Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${KEY};UseDevelopmentEmulator=true;`,
    );
    expect(options.brokers).toEqual(['localhost:9092']);
    expect(options.ssl).toBe(false);
  });

  it('still refuses SASL PLAIN in clear text to a remote broker', () => {
    expect(() =>
      kafkaOptionsFromEnv({
        KAFKA_BROKERS: 'remote:9092',
        KAFKA_SASL_MECHANISM: 'plain',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'p',
      }),
    ).toThrow(/clear text/);
  });

  it('says what is wrong with a connection string without an endpoint', () => {
    expect(() => kafkaOptionsFromEventHubs('SharedAccessKeyName=a;SharedAccessKey=b')).toThrow(/no Endpoint=sb:\/\//);
  });
});

describe('Event Hubs transport options', () => {
  const checkpoint = { EVENTHUBS_CHECKPOINT_CONNECTION_STRING: 'UseDevelopmentStorage=true' };

  it('reads a connection string, the checkpoint store and defaults from the environment', () => {
    const options = eventHubsOptionsFromEnv({ EVENTHUBS_CONNECTION_STRING: CS, ...checkpoint });
    expect(options).toMatchObject({
      connectionString: CS,
      checkpoint: { connectionString: 'UseDevelopmentStorage=true', container: 'activity-tracking-checkpoints' },
      readConsumerGroup: '$default',
      maxWaitMs: 500,
      loadBalancingIntervalMs: 10_000,
      ownershipExpirationMs: 60_000,
    });
    const transport = createTransport('eventhubs', { env: { EVENTHUBS_CONNECTION_STRING: CS, ...checkpoint } });
    expect(transport).toBeInstanceOf(EventHubsTransport);
    expect((transport as EventHubsTransport).namespace).toBe('my-namespace.servicebus.windows.net');
  });

  it('takes a namespace for Microsoft Entra ID instead of a connection string', () => {
    const options = eventHubsOptionsFromEnv({
      EVENTHUBS_NAMESPACE: 'my-namespace.servicebus.windows.net',
      EVENTHUBS_CHECKPOINT_ACCOUNT_URL: 'https://account.blob.core.windows.net',
    });
    expect(options.fullyQualifiedNamespace).toBe('my-namespace.servicebus.windows.net');
    expect(options.checkpoint?.accountUrl).toBe('https://account.blob.core.windows.net');
  });

  it.each([
    [{}, /exactly one of a connection string/],
    [{ EVENTHUBS_CONNECTION_STRING: CS, EVENTHUBS_NAMESPACE: 'a.servicebus.windows.net' }, /exactly one/],
    [{ EVENTHUBS_CONNECTION_STRING: `${CS};EntityPath=features` }, /namespace-level shared access policy/],
    [{ EVENTHUBS_CONNECTION_STRING: 'Endpoint=sb://x.servicebus.windows.net/' }, /neither SharedAccessKey/],
    [{ EVENTHUBS_NAMESPACE: 'https://x.servicebus.windows.net/' }, /host name/],
    [
      {
        EVENTHUBS_CONNECTION_STRING: CS,
        EVENTHUBS_CHECKPOINT_CONNECTION_STRING: 'a',
        EVENTHUBS_CHECKPOINT_ACCOUNT_URL: 'https://b',
      },
      /exactly one of EVENTHUBS_CHECKPOINT_CONNECTION_STRING/,
    ],
    [{ EVENTHUBS_CONNECTION_STRING: CS, ...checkpoint, EVENTHUBS_CHECKPOINT_CONTAINER: 'Bad_Name' }, /container name/],
    [{ EVENTHUBS_CONNECTION_STRING: CS, EVENTHUBS_MAX_WAIT_MS: '0' }, /positive integer/],
    [
      { EVENTHUBS_CONNECTION_STRING: CS, EVENTHUBS_OWNERSHIP_EXPIRATION_MS: '5000' },
      /longer than the load-balancing interval/,
    ],
  ])('refuses %j with a message that says how to fix it', (env, message) => {
    expect(() => eventHubsOptionsFromEnv(env as NodeJS.ProcessEnv)).toThrow(InvalidOptionError);
    expect(() => eventHubsOptionsFromEnv(env as NodeJS.ProcessEnv)).toThrow(message);
  });

  it('refuses to subscribe without a checkpoint store', async () => {
    const transport = new EventHubsTransport(eventHubsOptionsFromEnv({ EVENTHUBS_CONNECTION_STRING: CS }));
    // The store is checked before any connection is made, so this fails without a namespace.
    await expect(transport.subscribe({ groupId: 'g', topics: [], handler: async () => {} })).rejects.toThrow(
      /needs a checkpoint store: set EVENTHUBS_CHECKPOINT_CONNECTION_STRING/,
    );
    await transport.close();
  });
});
