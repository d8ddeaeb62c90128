import { describe, expect, it } from 'vitest';
import * as errors from '../src/errors.ts';

type ErrorClass = new (message: string) => errors.ActivityTrackingError;
const classes = (Object.values(errors) as unknown[]).filter(
  (v): v is ErrorClass => typeof v === 'function' && v.prototype instanceof errors.ActivityTrackingError,
);

describe('error module', () => {
  it('gives every error class its own code from the closed list', () => {
    const codes = classes.map((Cls) => new Cls('x').code);
    expect(new Set(codes).size).toBe(classes.length);
    for (const code of codes) expect(errors.ErrorCodes).toContain(code);
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
