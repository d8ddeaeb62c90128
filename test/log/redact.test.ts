import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.ts';
import { REDACTED, redactText, redactUrl, urlPassword } from '../../src/log/redact.ts';

const records = () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger({ destination: sink as never }), lines };
};

describe('redactUrl / redactText', () => {
  it('replaces the userinfo of a URL and leaves a URL without one as it is', () => {
    expect(redactUrl('http://user:pa55@mlflow.example:5000/api?x=1')).toBe(
      `http://${REDACTED}@mlflow.example:5000/api?x=1`,
    );
    expect(redactUrl('https://token@host')).toBe(`https://${REDACTED}@host`);
    expect(redactUrl('http://127.0.0.1:15000/path?mail=a@b')).toBe('http://127.0.0.1:15000/path?mail=a@b');
  });

  it('redacts every URL in a text and every known secret, also percent-encoded', () => {
    const text = 'GET http://u:p%40ss@h/a failed; retry http://u:p%40ss@h/b; password was p@ss, token tk-1';
    const out = redactText(text, ['p@ss', 'tk-1', undefined, '']);
    expect(out).not.toMatch(/p@ss|p%40ss|tk-1/);
    expect(out).toContain(`http://${REDACTED}@h/a`);
  });

  it('reads the decoded password of a URL', () => {
    expect(urlPassword('http://u:p%40ss@h')).toBe('p@ss');
    expect(urlPassword('http://h')).toBeUndefined();
    expect(urlPassword('not a url')).toBeUndefined();
  });
});

describe('logger redaction', () => {
  it('keeps URI fields with the userinfo replaced, drops secret fields, redacts URIs quoted in errors', () => {
    const { logger, lines } = records();
    logger.info(
      { uri: 'http://u:s3cret@h:1/x', deploy: { trackingUri: 'http://u:s3cret@h' }, endpoint: 'http://127.0.0.1:8' },
      'a',
    );
    logger.error({ err: new Error('at http://u:s3cret@h/a', { cause: new Error('via http://u:s3cret@h') }) }, 'b');
    expect(lines.join('')).not.toContain('s3cret');
    const [a, b] = lines.map((l) => JSON.parse(l));
    expect(a).toMatchObject({
      uri: `http://${REDACTED}@h:1/x`,
      deploy: { trackingUri: `http://${REDACTED}@h` },
      endpoint: 'http://127.0.0.1:8',
    });
    expect(b.err.message).toContain(`http://${REDACTED}@h/a`);
  });
});
