import { Kafka, logLevel } from 'kafkajs';
import { ServiceUnavailableError } from '../../errors.ts';
import type { Logger } from '../../log/logger.ts';
import { KAFKA_DEFAULTS, type KafkaOptions } from './options.ts';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * kafkajs logs each failed attempt to reach a broker at error level, with a stack: retries that may
 * still succeed, and when they are spent `connect` raises one clear error. They are warnings here, so a
 * one-shot command whose transport logs errors only prints that one line.
 */
function levelOf(level: number, message: string, rest: Record<string, unknown>): 'error' | 'warn' | 'info' | 'debug' {
  const mapped = LEVELS[level] ?? 'info';
  if (mapped !== 'error') return mapped;
  return 'retryCount' in rest || message.startsWith('Connection error') ? 'warn' : 'error';
}

/** The kafkajs client of a transport, logging through the transport's logger. */
export function createKafka(options: KafkaOptions, logger: Logger): Kafka {
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    ssl: options.ssl,
    ...(options.sasl ? { sasl: options.sasl as never } : {}),
    connectionTimeout: options.connectionTimeoutMs,
    // Metadata and connection retries of every client (see KafkaOptions.retries).
    retry: { retries: options.retries ?? KAFKA_DEFAULTS.retries, initialRetryTime: 300, maxRetryTime: 5000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }) => {
        const { message, ...rest } = log;
        logger[levelOf(level, message, rest)]({ kafkajs: rest }, message);
      },
  });
}

/** Waits for a client's disconnect at most `ms`, then logs it and goes on (a stop must not hang). */
export async function within(
  logger: Logger,
  done: Promise<void>,
  ms: number,
  context: Record<string, unknown>,
  message: string,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  const outcome = await Promise.race([done.then(() => 'ok' as const), timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') logger.error({ ...context, ms }, message);
}

/**
 * kafkajs errors that mean "the cluster is not reachable right now" (a broker restarting, a coordinator
 * moving) but that kafkajs marks non-retriable once its own retries are spent.
 */
export const TRANSIENT = new Set([
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSBrokerNotFound',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
]);

/**
 * Connects a kafkajs client; a cluster that cannot be reached once kafkajs's connection retries are spent
 * becomes a ServiceUnavailableError with one line that names the brokers and the setting to check (the CLI
 * exits 69 on it), instead of kafkajs's retry error and its stack.
 */
export async function connect(client: { connect(): Promise<void> }, brokers: readonly string[]): Promise<void> {
  try {
    await client.connect();
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (!name || !TRANSIENT.has(name)) throw err;
    let root: unknown = err;
    while ((root as { cause?: unknown }).cause instanceof Error) root = (root as { cause: Error }).cause;
    throw new ServiceUnavailableError(
      `Kafka brokers ${brokers.join(',')} are not reachable (${(root as Error).message}); check KAFKA_BROKERS and that the brokers run (KAFKA_RETRIES sets how long to retry)`,
      { cause: err, context: { brokers } },
    );
  }
}
