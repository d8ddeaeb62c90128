import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { InvalidOptionError } from '../errors.ts';
import { REDACTED, redactText } from './redact.ts';

export type { Logger } from 'pino';

/**
 * Fields that hold a URI or another process's output: a URI may carry
 * credentials in its userinfo (`http://user:pass@host`), so pino keeps these
 * fields but with the userinfo replaced, instead of dropping them.
 */
const URL_FIELDS = ['uri', 'url', 'endpoint', 'trackingUri', 'stderr'] as const;
const URL_FIELD_SET: ReadonlySet<string> = new Set(URL_FIELDS);

/**
 * Paths pino redacts in every log record: secrets must never reach a log
 * (connection strings, SASL passwords, API keys, bearer tokens, a URI's userinfo).
 */
const REDACT_PATHS = [
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
  ...URL_FIELDS.flatMap((f) => [f, `*.${f}`]),
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
    redact: { paths: REDACT_PATHS, censor },
    serializers: { err: redactedErr },
  };
  if (options.name !== undefined) config.name = options.name;
  return options.destination ? pino(config, options.destination) : pino(config);
}

// pino calls the censor only for records that have one of the paths, so the common record pays nothing.
function censor(value: unknown, path: string[]): unknown {
  return typeof value === 'string' && URL_FIELD_SET.has(path[path.length - 1] ?? '') ? redactText(value) : REDACTED;
}

// An error's message or stack may quote a URI (fetch's own errors do): the userinfo goes before it is written.
function redactedErr(err: Error): Record<string, unknown> {
  const out = pino.stdSerializers.err(err) as unknown as Record<string, unknown>;
  if (typeof out.message === 'string') out.message = redactText(out.message);
  if (typeof out.stack === 'string') out.stack = redactText(out.stack);
  return out;
}

/** A logger that drops everything, for library defaults. */
export const silentLogger: Logger = pino({ level: 'silent' });
