/**
 * One error module for the whole project (STYLE.md habit 3).
 *
 * Every error carries a `code` from the closed list below, an optional `cause`,
 * a `retriable` flag that retry helpers read (never the message), and context
 * fields that serialize into logs through `toJSON`.
 */
export const ErrorCodes = [
  'INVALID_OPTION',
  'INVALID_VALUE',
  'INVALID_RECORD',
  'RECORD_REJECTED',
  'SCHEMA_VIOLATION',
  'SNAPSHOT_INVALID',
  'TRANSPORT',
  'TIMEOUT',
  'NOT_FOUND',
  'CONFLICT',
  'ARTIFACT_INVALID',
  'TRACKING',
  'DEPLOYMENT',
  'SERVICE_UNAVAILABLE',
  'TRAINING',
  'STOPPING',
  'RECORD_TOO_LARGE',
] as const;

export type ErrorCode = (typeof ErrorCodes)[number];

export interface ErrorOptions {
  cause?: unknown;
  retriable?: boolean;
  context?: Record<string, unknown>;
}

export class ActivityTrackingError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly context: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.context = options.context ?? {};
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, retriable: this.retriable, ...this.context };
  }
}

/** A constructor option or a combination of options is invalid; the message says how to fix it. */
export class InvalidOptionError extends ActivityTrackingError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('INVALID_OPTION', message, options);
  }
}

/** A value handed to an algorithm cannot be used (NaN, ±Infinity, wrong length). */
export class InvalidValueError extends ActivityTrackingError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('INVALID_VALUE', message, options);
  }
}

/** A record read from a topic is malformed; it goes to the dead-letter topic with this reason. */
export class InvalidRecordError extends ActivityTrackingError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('INVALID_RECORD', message, options);
  }
}

/** A message does not match its JSON Schema. */
export class SchemaViolationError extends ActivityTrackingError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('SCHEMA_VIOLATION', message, options);
  }
}

/** A detector or featurizer snapshot is corrupt, truncated or of an unknown version. */
export class SnapshotInvalidError extends ActivityTrackingError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('SNAPSHOT_INVALID', message, options);
  }
}

/** A transport (Kafka, Event Hubs, embedded log) failed. Retriable unless said otherwise. */
export class TransportError extends ActivityTrackingError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('TRANSPORT', message, { retriable: true, ...options });
  }
}

/** An operation did not finish in time. */
export class TimeoutError extends ActivityTrackingError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('TIMEOUT', message, { retriable: true, ...options });
  }
}

/** A named thing (model version, run, experiment, topic) does not exist. */
export class NotFoundError extends ActivityTrackingError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('NOT_FOUND', message, options);
  }
}

/** A concurrent writer holds a resource, or a write would overwrite something it must not. */
export class ConflictError extends ActivityTrackingError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('CONFLICT', message, options);
  }
}

/** A model artifact is corrupt, truncated, of an unknown format or fails its digest. */
export class ArtifactInvalidError extends ActivityTrackingError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('ARTIFACT_INVALID', message, options);
  }
}

/** The tracking server or registry refused or failed a request. */
export class TrackingError extends ActivityTrackingError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('TRACKING', message, options);
  }
}

/** A deployment failed (health check, provisioning, target error). */
export class DeploymentError extends ActivityTrackingError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('DEPLOYMENT', message, options);
  }
}

/** A service the process needs (broker, tracking server, blob store) is not reachable. */
export class ServiceUnavailableError extends ActivityTrackingError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('SERVICE_UNAVAILABLE', message, { retriable: true, ...options });
  }
}

/** A candidate failed to train for a reason that is not an option or a value (a library threw, its worker thread died). */
export class TrainingError extends ActivityTrackingError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('TRAINING', message, options);
  }
}

/**
 * A consumer is stopping while it holds work it has not committed; the work is
 * left for redelivery, so a retry (after the restart) is what it wants.
 */
export class StoppingError extends ActivityTrackingError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('STOPPING', message, { retriable: true, ...options });
  }
}

/**
 * A publish the log refuses for its size (Kafka's MESSAGE_TOO_LARGE or RECORD_LIST_TOO_LARGE, over the
 * broker's `message.max.bytes`), or outputs too large to publish at all. Never retriable: the same records
 * are refused again, so redelivering the batch would loop forever.
 */
export class RecordTooLargeError extends ActivityTrackingError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('RECORD_TOO_LARGE', message, { ...options, retriable: false });
  }
}

/**
 * `RECORD_REJECTED` belongs to `RecordRejected` (src/pipeline/dead-letter.ts),
 * whose constructor takes a reason code too; it is raised and caught inside a
 * consumer and never crosses a thread boundary, so it has no entry below.
 */
const CLASS_OF_CODE: Record<
  Exclude<ErrorCode, 'RECORD_REJECTED'>,
  new (
    message: string,
    options?: ErrorOptions,
  ) => ActivityTrackingError
> = {
  INVALID_OPTION: InvalidOptionError,
  INVALID_VALUE: InvalidValueError,
  INVALID_RECORD: InvalidRecordError,
  SCHEMA_VIOLATION: SchemaViolationError,
  SNAPSHOT_INVALID: SnapshotInvalidError,
  TRANSPORT: TransportError,
  TIMEOUT: TimeoutError,
  NOT_FOUND: NotFoundError,
  CONFLICT: ConflictError,
  ARTIFACT_INVALID: ArtifactInvalidError,
  TRACKING: TrackingError,
  DEPLOYMENT: DeploymentError,
  SERVICE_UNAVAILABLE: ServiceUnavailableError,
  TRAINING: TrainingError,
  STOPPING: StoppingError,
  RECORD_TOO_LARGE: RecordTooLargeError,
};

/**
 * The error class of `code`, for an error that crossed a thread boundary as
 * data (structured clone keeps neither the class nor its fields): callers keep
 * matching on the class and retries keep reading `retriable`.
 */
export function errorFromCode(code: ErrorCode, message: string, options: ErrorOptions = {}): ActivityTrackingError {
  if (code === 'RECORD_REJECTED') return new ActivityTrackingError(code, message, options);
  return new CLASS_OF_CODE[code](message, options);
}
