import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Kafka, logLevel } from 'kafkajs';
import { InvalidOptionError } from '../../errors.ts';
import type { Logger } from '../../log/logger.ts';
import { type ConnectTarget, connectError } from './connect-error.ts';
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

/** kafkajs's `ssl`: off, Node's bundled CAs, or the CAs of KAFKA_SSL_CA, read once when the client is made. */
function tlsOf(options: KafkaOptions): boolean | ConnectionOptions {
  if (!options.ssl) return false;
  if (!options.sslCaFile) return true;
  let pem: string;
  try {
    pem = readFileSync(options.sslCaFile, 'utf8');
  } catch (err) {
    throw new InvalidOptionError(
      `KAFKA_SSL_CA is ${options.sslCaFile}, which cannot be read (${(err as NodeJS.ErrnoException).code}); set it to a PEM file of CA certificates`,
      { cause: err },
    );
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new InvalidOptionError(
      `KAFKA_SSL_CA is ${options.sslCaFile}, which holds no PEM certificate (-----BEGIN CERTIFICATE-----); set it to a PEM file of CA certificates`,
    );
  return { ca: [pem] };
}

/** The kafkajs client of a transport, logging through the transport's logger. */
export function createKafka(options: KafkaOptions, logger: Logger): Kafka {
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    ssl: tlsOf(options),
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
 * Connects a kafkajs client; what keeps it from connecting becomes one of the port's errors with one line
 * that names the setting to check (connect-error.ts), instead of kafkajs's retry error and its stack.
 */
export async function connect(client: { connect(): Promise<void> }, target: ConnectTarget): Promise<void> {
  try {
    await client.connect();
  } catch (err) {
    throw connectError(err, target);
  }
}
