import { CommanderError } from 'commander';
import { ActivityTrackingError, type ErrorCode } from '../errors.ts';

/** Exit codes scripts can rely on (docs/configuration.md). */
export const EXIT = { ok: 0, failure: 1, usage: 2, unavailable: 69, config: 78 } as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * The one mapping from an error's code to the process's exit code. A `Record` over the closed list, so a
 * new code does not compile until someone decides what a script should see for it.
 */
const EXIT_BY_CODE: Record<ErrorCode, ExitCode> = {
  INVALID_OPTION: EXIT.config,
  INVALID_VALUE: EXIT.failure,
  INVALID_RECORD: EXIT.failure,
  RECORD_REJECTED: EXIT.failure,
  SCHEMA_VIOLATION: EXIT.failure,
  SNAPSHOT_INVALID: EXIT.failure,
  TRANSPORT: EXIT.unavailable,
  TIMEOUT: EXIT.failure,
  NOT_FOUND: EXIT.failure,
  CONFLICT: EXIT.failure,
  ARTIFACT_INVALID: EXIT.failure,
  TRACKING: EXIT.failure,
  DEPLOYMENT: EXIT.failure,
  SERVICE_UNAVAILABLE: EXIT.unavailable,
  TRAINING: EXIT.failure,
  STOPPING: EXIT.failure,
  RECORD_TOO_LARGE: EXIT.failure,
};

export function exitCodeOf(err: unknown): ExitCode {
  // Commander has already printed its message (and the help) when it throws through exitOverride.
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (err instanceof ActivityTrackingError) return EXIT_BY_CODE[err.code];
  return EXIT.failure;
}

/**
 * What the user sees for an error: one line for the errors the project raises on purpose (a bad setting,
 * a broker that is down), with the stack and causes only at debug level; the stack always for anything
 * else, which is a bug.
 */
export function describeError(err: unknown, debug: boolean): string {
  if (err instanceof CommanderError) return '';
  if (err instanceof ActivityTrackingError) {
    const line = `error [${err.code}]: ${err.message}\n`;
    return debug ? `${line}${causeChain(err)}` : line;
  }
  return `error: ${causeChain(err)}`;
}

function causeChain(err: unknown): string {
  let out = '';
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 5; e = (e as Error).cause, depth++)
    out += `${depth === 0 ? '' : 'caused by: '}${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`;
  return out;
}
