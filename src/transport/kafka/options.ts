import { InvalidOptionError } from '../../errors.ts';
import { namespaceOf, parseConnectionString } from '../connection-string.ts';

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

export interface KafkaOptions {
  /** Bootstrap brokers, `host:port`. */
  brokers: string[];
  /** @defaultValue 'activity-tracking' */
  clientId: string;
  /** TLS to the brokers. @defaultValue false (true when SASL is set through an Event Hubs connection string) */
  ssl: boolean;
  /**
   * PEM file of the CA certificates that sign the brokers' certificates (a private CA), trusted instead of
   * Node's bundled CAs. Needs `ssl`. @defaultValue unset: Node's bundled CAs
   */
  sslCaFile?: string;
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
  /** Replication factor of topics the project creates; -1 takes the broker's default. @defaultValue -1 */
  replicationFactor: number;
  /** Connection timeout in ms. @defaultValue 10000 */
  connectionTimeoutMs: number;
  /**
   * Retries of connections and metadata requests, 300 ms growing to 5 s apart. 10 (about 35 s) rides out
   * a broker restart; a one-shot command that should fail fast on a broker that is down can use 0-2.
   * @defaultValue 10
   */
  retries?: number;
  /**
   * Consumer-group session timeout: how long a member that died (SIGKILL) keeps its partitions before
   * the group moves them. Within the broker's group.min/max.session.timeout.ms. @defaultValue 30000
   */
  sessionTimeoutMs?: number;
}

/**
 * The default of every Kafka option that has one, in one place: the env
 * reader, the Event Hubs reader and the clients fall back to these, and tests
 * and benchmarks spread them and override what they need. The reasons for
 * each value are on the fields of {@link KafkaOptions}.
 */
export const KAFKA_DEFAULTS: Readonly<Required<Omit<KafkaOptions, 'sasl' | 'sslCaFile'>>> = Object.freeze({
  brokers: ['127.0.0.1:9092'],
  clientId: 'activity-tracking',
  ssl: false,
  replicationFactor: -1,
  connectionTimeoutMs: 10_000,
  retries: 10,
  sessionTimeoutMs: 30_000,
});

/**
 * The environment variables the Kafka transport reads (documented in
 * docs/configuration.md). One place, so the CLI, the consumers and the
 * benchmarks agree on the names.
 */
const KAFKA_ENV = {
  brokers: 'KAFKA_BROKERS',
  clientId: 'KAFKA_CLIENT_ID',
  ssl: 'KAFKA_SSL',
  sslCa: 'KAFKA_SSL_CA',
  saslMechanism: 'KAFKA_SASL_MECHANISM',
  saslUsername: 'KAFKA_SASL_USERNAME',
  saslPassword: 'KAFKA_SASL_PASSWORD',
  replicationFactor: 'KAFKA_REPLICATION_FACTOR',
  connectionTimeoutMs: 'KAFKA_CONNECTION_TIMEOUT_MS',
  retries: 'KAFKA_RETRIES',
  sessionTimeoutMs: 'KAFKA_SESSION_TIMEOUT_MS',
} as const;

const MECHANISMS: readonly SaslMechanism[] = ['plain', 'scram-sha-256', 'scram-sha-512'];

function parseBool(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes)$/i.test(raw)) return true;
  if (/^(0|false|no)$/i.test(raw)) return false;
  throw new InvalidOptionError(`${name} must be true or false, got "${raw}"`);
}

function parseInteger(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new InvalidOptionError(`${name} must be an integer, got "${raw}"`);
  return value;
}

function isLoopback(broker: string): boolean {
  return /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+$/.test(broker);
}

/** The Event Hubs connection string the Kafka transport falls back to when no brokers are set. */
const EVENTHUBS_CONNECTION_STRING_ENV = 'EVENTHUBS_CONNECTION_STRING';

/**
 * Kafka settings for the Kafka endpoint of an Event Hubs namespace, from its connection
 * string, as Microsoft documents them: bootstrap server `<namespace>.servicebus.windows.net:9093`,
 * SASL_SSL with mechanism PLAIN, user name `$ConnectionString` and the whole connection
 * string as the password. Each event hub is a topic. The development emulator
 * (`UseDevelopmentEmulator=true`) listens for Kafka on port 9092 without TLS. A port in the endpoint
 * (`sb://127.0.0.1:29094/`, which Azure's connection strings never have) is the Kafka port of a local
 * stand-in, such as the test broker's SASL_SSL listener; the emulator's keeps 9092, as its endpoint's port
 * may be the AMQP one.
 */
export function kafkaOptionsFromEventHubs(
  connectionString: string,
  defaults: Partial<KafkaOptions> = {},
): KafkaOptions {
  const namespace = namespaceOf(connectionString);
  const emulator = parseConnectionString(connectionString).get('usedevelopmentemulator') === 'true';
  const broker =
    !emulator && /:\d+$/.test(namespace) ? namespace : `${namespace.replace(/:\d+$/, '')}:${emulator ? 9092 : 9093}`;
  return validateKafkaOptions({
    brokers: [broker],
    clientId: defaults.clientId ?? KAFKA_DEFAULTS.clientId,
    ssl: !emulator,
    ...(defaults.sslCaFile ? { sslCaFile: defaults.sslCaFile } : {}),
    sasl: { mechanism: 'plain', username: '$ConnectionString', password: connectionString },
    replicationFactor: defaults.replicationFactor ?? KAFKA_DEFAULTS.replicationFactor,
    connectionTimeoutMs: defaults.connectionTimeoutMs ?? KAFKA_DEFAULTS.connectionTimeoutMs,
    sessionTimeoutMs: defaults.sessionTimeoutMs ?? KAFKA_DEFAULTS.sessionTimeoutMs,
    ...(defaults.retries !== undefined ? { retries: defaults.retries } : {}),
  });
}

/** Validates options at the door (STYLE habit 4); the message says how to fix a bad combination. */
export function validateKafkaOptions(options: KafkaOptions): KafkaOptions {
  if (options.brokers.length === 0 || options.brokers.some((b) => !/^[^\s:]+:\d+$/.test(b))) {
    throw new InvalidOptionError(
      `Kafka brokers must be a non-empty list of host:port, got ${JSON.stringify(options.brokers)}; set ${KAFKA_ENV.brokers}=host1:9092,host2:9092`,
    );
  }
  if (options.retries !== undefined && !(Number.isInteger(options.retries) && options.retries >= 0))
    throw new InvalidOptionError(
      `Kafka retries must be an integer >= 0, got ${options.retries}; set ${KAFKA_ENV.retries}=10 (the default) or less to fail sooner`,
    );
  if (!(Number.isInteger(options.connectionTimeoutMs) && options.connectionTimeoutMs > 0))
    throw new InvalidOptionError(
      `Kafka connection timeout must be a positive number of ms, got ${options.connectionTimeoutMs}; set ${KAFKA_ENV.connectionTimeoutMs}`,
    );
  if (options.sslCaFile && !options.ssl)
    throw new InvalidOptionError(
      `${KAFKA_ENV.sslCa} names a CA for TLS, but TLS is off; remove ${KAFKA_ENV.ssl}=false (${KAFKA_ENV.sslCa} turns TLS on) or unset ${KAFKA_ENV.sslCa}`,
    );
  if (options.sasl) {
    if (!MECHANISMS.includes(options.sasl.mechanism)) {
      throw new InvalidOptionError(
        `SASL mechanism must be one of ${MECHANISMS.join(', ')}, got "${options.sasl.mechanism}"`,
      );
    }
    if (!options.sasl.username || !options.sasl.password) {
      throw new InvalidOptionError(
        `SASL needs both a username and a password: set ${KAFKA_ENV.saslUsername} and ${KAFKA_ENV.saslPassword}`,
      );
    }
    if (!options.ssl && options.sasl.mechanism === 'plain' && !options.brokers.every(isLoopback)) {
      throw new InvalidOptionError(
        `SASL PLAIN sends the password in clear text; enable TLS with ${KAFKA_ENV.ssl}=true (plain text SASL is refused)`,
      );
    }
  }
  return options;
}

/** Reads the Kafka options from environment variables, with defaults. */
export function kafkaOptionsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  defaults: Partial<KafkaOptions> = {},
): KafkaOptions {
  const eventHubs = env[EVENTHUBS_CONNECTION_STRING_ENV];
  const sslCaFile = env[KAFKA_ENV.sslCa] || defaults.sslCaFile;
  if (!env[KAFKA_ENV.brokers] && !defaults.brokers && eventHubs)
    return kafkaOptionsFromEventHubs(eventHubs, {
      ...defaults,
      ...(sslCaFile ? { sslCaFile } : {}),
      ...(env[KAFKA_ENV.clientId] ? { clientId: env[KAFKA_ENV.clientId] } : {}),
      sessionTimeoutMs: parseInteger(
        KAFKA_ENV.sessionTimeoutMs,
        env[KAFKA_ENV.sessionTimeoutMs],
        defaults.sessionTimeoutMs ?? KAFKA_DEFAULTS.sessionTimeoutMs,
      ),
      retries: parseInteger(KAFKA_ENV.retries, env[KAFKA_ENV.retries], defaults.retries ?? KAFKA_DEFAULTS.retries),
    });
  const brokers = (env[KAFKA_ENV.brokers] ?? (defaults.brokers ?? KAFKA_DEFAULTS.brokers).join(','))
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  const mechanism = env[KAFKA_ENV.saslMechanism]?.toLowerCase();
  const options: KafkaOptions = {
    brokers,
    clientId: env[KAFKA_ENV.clientId] ?? defaults.clientId ?? KAFKA_DEFAULTS.clientId,
    ssl: parseBool(KAFKA_ENV.ssl, env[KAFKA_ENV.ssl], defaults.ssl ?? (sslCaFile ? true : KAFKA_DEFAULTS.ssl)),
    ...(sslCaFile ? { sslCaFile } : {}),
    replicationFactor: parseInteger(
      KAFKA_ENV.replicationFactor,
      env[KAFKA_ENV.replicationFactor],
      defaults.replicationFactor ?? KAFKA_DEFAULTS.replicationFactor,
    ),
    connectionTimeoutMs: parseInteger(
      KAFKA_ENV.connectionTimeoutMs,
      env[KAFKA_ENV.connectionTimeoutMs],
      defaults.connectionTimeoutMs ?? KAFKA_DEFAULTS.connectionTimeoutMs,
    ),
    sessionTimeoutMs: parseInteger(
      KAFKA_ENV.sessionTimeoutMs,
      env[KAFKA_ENV.sessionTimeoutMs],
      defaults.sessionTimeoutMs ?? KAFKA_DEFAULTS.sessionTimeoutMs,
    ),
    retries: parseInteger(KAFKA_ENV.retries, env[KAFKA_ENV.retries], defaults.retries ?? KAFKA_DEFAULTS.retries),
  };
  if (mechanism) {
    options.sasl = {
      mechanism: mechanism as SaslMechanism,
      username: env[KAFKA_ENV.saslUsername] ?? '',
      password: env[KAFKA_ENV.saslPassword] ?? '',
    };
  } else if (defaults.sasl) {
    options.sasl = defaults.sasl;
  }
  return validateKafkaOptions(options);
}

/** Retries of a publish (plain and transactional): ride out a broker restart or a leader move, about a minute. */
export const PUBLISH_RETRY = { retries: 15, initialRetryTime: 300, maxRetryTime: 5000 };
