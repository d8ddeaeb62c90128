import { InvalidArgumentError } from 'commander';
import { hasSharedHar } from '../data/hapt.ts';
import { InvalidOptionError } from '../errors.ts';
import { LOG_LEVELS } from '../log/logger.ts';
import { type Namespace, namespace, TOPIC_PREFIX_PATTERN } from '../topics.ts';
import { TRANSPORT_KINDS } from '../transport/index.ts';

/*
 * Two kinds of bad input, two exit codes (docs/configuration.md):
 * - a command-line argument that exists only as a flag (`--loops`, `--version`) is a usage error:
 *   the parsers below throw commander's InvalidArgumentError, and commander prints it with the help (exit 2);
 * - a setting that can also come from the environment (`--transport`/TRANSPORT, `--port`/SERVING_PORT)
 *   is configuration: InvalidOptionError names both spellings (exit 78).
 */

const DECIMAL = /^[1-9][0-9]*$/;

/** A plain positive decimal integer: `0x2`, `1e3`, ` 2` and `2.0` are refused, not read as numbers. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!DECIMAL.test(value) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError('must be a positive decimal integer (1, 2, 3, ...)');
  return n;
}

/** A finite number > 0 given in decimal. */
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!/^[0-9]*\.?[0-9]+$/.test(value) || !(n > 0) || !Number.isFinite(n))
    throw new InvalidArgumentError('must be a positive number, such as 1, 2.5 or 0.5');
  return n;
}

/** A share strictly between 0 and 1, such as 0.5. */
export function share(value: string): number {
  const n = Number(value);
  if (!/^0?\.[0-9]+$/.test(value) || !(n > 0 && n < 1))
    throw new InvalidArgumentError('must be a number between 0 and 1, such as 0.5');
  return n;
}

/** A replay speed: a positive multiple of real time, or `max`. */
export function speed(value: string): number | 'max' {
  if (value === 'max') return 'max';
  try {
    return positiveNumber(value);
  } catch {
    throw new InvalidArgumentError('must be a positive multiple of real time (such as 1 or 25) or max');
  }
}

/** A finite number >= 0 given in decimal, the error naming its unit. */
function nonNegative(unit: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^[0-9]*\.?[0-9]+$/.test(value) || !Number.isFinite(n))
      throw new InvalidArgumentError(`must be a number of ${unit} >= 0`);
    return n;
  };
}

/** Seconds from a start: a finite number >= 0. */
export const seconds = nonNegative('seconds');

/** Milliseconds: a finite number >= 0. */
export const milliseconds = nonNegative('milliseconds');

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * `--evict-idle`: a duration such as 30s, 5m or 1h (a bare number is milliseconds), or `off`. Configuration
 * that may come from the environment (EVICT_IDLE), so a bad value is an InvalidOptionError.
 */
export function idleDuration(setting: string, value: string): number | false {
  if (value === 'off') return false;
  const m = /^([0-9]*\.?[0-9]+)(ms|s|m|h)?$/.exec(value);
  const ms = m ? Number(m[1]) * DURATION_UNITS[m[2] ?? 'ms'] : Number.NaN;
  if (!(ms > 0 && Number.isFinite(ms)))
    throw new InvalidOptionError(`${setting} is "${value}"; give a duration such as 30s, 5m or 1h, or off`);
  return ms;
}

/** The options every command reads; `--transport`, `--log-level` and `--topic-prefix` may come from the environment. */
export interface GlobalOptions {
  transport: string;
  logLevel: string;
  topicPrefix?: string;
}

/** Checks the global options, which may come from TRANSPORT, LOG_LEVEL and TOPIC_PREFIX, before any subcommand runs. */
export function checkGlobalOptions(options: GlobalOptions): void {
  if (!(TRANSPORT_KINDS as readonly string[]).includes(options.transport))
    throw new InvalidOptionError(
      `--transport (env TRANSPORT) is "${options.transport}"; choose one of ${TRANSPORT_KINDS.join(', ')}`,
    );
  if (!(LOG_LEVELS as readonly string[]).includes(options.logLevel))
    throw new InvalidOptionError(
      `--log-level (env LOG_LEVEL) is "${options.logLevel}"; choose one of ${LOG_LEVELS.join(', ')}`,
    );
  if (options.topicPrefix !== undefined && !TOPIC_PREFIX_PATTERN.test(options.topicPrefix))
    throw new InvalidOptionError(
      `--topic-prefix (env TOPIC_PREFIX) is "${options.topicPrefix}"; use 1 to 100 letters, digits, dots, dashes or underscores, starting with a letter or digit`,
    );
}

/** The topics and default consumer groups the global options name (src/topics.ts `Namespace`). */
export function cliNamespace(options: GlobalOptions): Namespace {
  return namespace(options.topicPrefix || undefined);
}

/** A TCP port from a flag or its environment variable: an integer 0-65535 (0: any free port). */
export function port(setting: string, raw: string): number {
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || n > 65_535)
    throw new InvalidOptionError(`${setting} is "${raw}"; it must be a port number from 0 to 65535`);
  return n;
}

/** The data `run` and `replay` use unless told: the full recordings when ACTIVITY_DATA=shared and they are there. */
export const DEFAULT_DATA = (): 'sample' | 'shared' =>
  process.env.ACTIVITY_DATA === 'shared' && hasSharedHar() ? 'shared' : 'sample';
