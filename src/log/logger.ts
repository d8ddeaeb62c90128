import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { InvalidOptionError } from '../errors.ts';

export type { Logger } from 'pino';

/**
 * Paths pino redacts in every log record: secrets must never reach a log
 * (connection strings, SASL passwords, API keys, bearer tokens).
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'sasl.password',
  '*.sasl.password',
  'connectionString',
  '*.connectionString',
  'apiKey',
  '*.apiKey',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers["x-api-key"]',
  '*.headers["x-api-key"]',
  'secret',
  '*.secret',
  'clientSecret',
  '*.clientSecret',
];

export interface CreateLoggerOptions {
  level?: string;
  name?: string;
  /** Destination stream; tests pass a sink to read records back. @defaultValue stdout */
  destination?: DestinationStream;
}

/** pino's levels; another name would make pino throw a bare Error from deep inside a component. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The root logger; components take it and make `logger.child({ component })` once. */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw new InvalidOptionError(
      `log level (LOG_LEVEL, --log-level) is "${level}"; choose one of ${LOG_LEVELS.join(', ')}`,
    );
  const config: LoggerOptions = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: pino.stdSerializers.err },
  };
  if (options.name !== undefined) config.name = options.name;
  return options.destination ? pino(config, options.destination) : pino(config);
}

/** A logger that drops everything, for library defaults. */
export const silentLogger: Logger = pino({ level: 'silent' });
