import { Kafka, logLevel } from 'kafkajs';
import type { Logger } from '../../log/logger.ts';
import type { KafkaOptions } from './options.ts';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** The kafkajs client of a transport, logging through the transport's logger. */
export function createKafka(options: KafkaOptions, logger: Logger): Kafka {
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    ssl: options.ssl,
    ...(options.sasl ? { sasl: options.sasl as never } : {}),
    connectionTimeout: options.connectionTimeoutMs,
    // Metadata and connection retries of every client (about 35 s): long enough for a broker restart.
    retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 5000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }) => {
        const { message, ...rest } = log;
        logger[LEVELS[level] ?? 'info']({ kafkajs: rest }, message);
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
