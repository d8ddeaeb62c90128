import { describe, expect, it } from 'vitest';
import * as errors from '../src/errors.ts';
import { RecordRejected } from '../src/pipeline/dead-letter.ts';

type ErrorClass = new (message: string) => errors.ActivityTrackingError;
const classes = (Object.values(errors) as unknown[]).filter(
  (v): v is ErrorClass => typeof v === 'function' && v.prototype instanceof errors.ActivityTrackingError,
);
// The error classes that live next to what raises them. DecodeError is left out on purpose: it is an
// InvalidRecordError with a reason code, a subclass that callers catch as its parent.
const elsewhere: errors.ActivityTrackingError[] = [new RecordRejected('out-of-order', 'x')];

describe('error module', () => {
  it('gives every error class its own code from the closed list', () => {
    const codes = [...classes.map((Cls) => new Cls('x').code), ...elsewhere.map((e) => e.code)];
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(errors.ErrorCodes).toContain(code);
  });

  it('rebuilds every code that crosses a thread boundary as its own class', () => {
    for (const Cls of classes) {
      const code = new Cls('x').code;
      expect(errors.errorFromCode(code, 'x')).toBeInstanceOf(Cls);
    }
    expect(errors.errorFromCode('RECORD_REJECTED', 'x').code).toBe('RECORD_REJECTED');
    expect(new errors.StoppingError('x').retriable).toBe(true);
  });

  it('keeps cause, retriable flag and context, and serializes them', () => {
    const cause = new Error('root');
    const err = new errors.TransportError('broker down', { cause, context: { topic: 't' } });
    expect(err.cause).toBe(cause);
    expect(err.retriable).toBe(true);
    expect(err.name).toBe('TransportError');
    expect(JSON.parse(JSON.stringify(err))).toMatchObject({ code: 'TRANSPORT', topic: 't', retriable: true });
    expect(new errors.InvalidOptionError('bad').retriable).toBe(false);
  });
});
