import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';

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

/** The root logger; components take it and make `logger.child({ component })` once. */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const config: LoggerOptions = {
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: pino.stdSerializers.err },
  };
  if (options.name !== undefined) config.name = options.name;
  return options.destination ? pino(config, options.destination) : pino(config);
}

/** A logger that drops everything, for library defaults. */
export const silentLogger: Logger = pino({ level: 'silent' });
