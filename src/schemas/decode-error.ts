import { InvalidRecordError, type SchemaViolationError } from '../errors.ts';

/** Stable reason codes of records that cannot be decoded; the dead-letter topic carries them (docs/schemas.md). */
export const DECODE_REASONS = [
  'oversized',
  'missing-attribute',
  'bad-attribute',
  'bad-specversion',
  'unknown-type',
  'unknown-version',
  'bad-content-type',
  'invalid-utf8',
  'not-json',
  'malformed-binary',
  'schema-violation',
  'non-finite',
  'length-mismatch',
  'inverted-range',
] as const;
export type DecodeReason = (typeof DECODE_REASONS)[number];

/**
 * A record that cannot be decoded: an InvalidRecordError (it goes to the
 * dead-letter topic, retrying cannot help) with a reason code. When the data
 * broke its schema, `cause` is the SchemaViolationError with ajv's
 * instancePath, schemaPath, keyword and params in its context.
 */
export class DecodeError extends InvalidRecordError {
  readonly reason: DecodeReason;
  constructor(reason: DecodeReason, message: string, cause?: SchemaViolationError) {
    super(message, { context: { reason, ...cause?.context }, ...(cause ? { cause } : {}) });
    this.reason = reason;
  }
}
