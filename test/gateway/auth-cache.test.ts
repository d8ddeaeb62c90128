import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeviceAuth, issueDeviceToken } from '../../src/gateway/auth.ts';

const SECRET = 'auth-cache-test-secret-0123456789abcdef';

describe('DeviceAuth remembers verified tokens', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('refuses a remembered token once it has expired, as jose would', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-01T00:00:00Z'));
    const auth = new DeviceAuth(SECRET);
    const token = await issueDeviceToken({ secret: SECRET, device: 'phone-1', ttlSeconds: 60 });
    expect(await auth.verify(token)).toBe('phone-1');
    vi.setSystemTime(new Date('2026-12-01T00:00:59Z'));
    expect(await auth.verify(token)).toBe('phone-1');
    vi.setSystemTime(new Date('2026-12-01T00:01:00Z'));
    await expect(auth.verify(token)).rejects.toMatchObject({ status: 401, code: 'token_expired' });
  });

  it('never lets a forged token through because a similar one was remembered', async () => {
    const auth = new DeviceAuth(SECRET);
    const token = await issueDeviceToken({ secret: SECRET, device: 'phone-1', ttlSeconds: 600 });
    expect(await auth.verify(token)).toBe('phone-1');
    const [header, , signature] = token.split('.');
    const payload = Buffer.from(JSON.stringify({ sub: 'phone-2', aud: 'x', exp: 4e9 })).toString('base64url');
    await expect(auth.verify(`${header}.${payload}.${signature}`)).rejects.toMatchObject({ status: 401 });
  });

  it('keeps at most cacheSize tokens and still verifies the ones it forgot', async () => {
    const auth = new DeviceAuth(SECRET, { cacheSize: 2 });
    const tokens = await Promise.all(
      ['a', 'b', 'c'].map((d) => issueDeviceToken({ secret: SECRET, device: `phone-${d}`, ttlSeconds: 600 })),
    );
    for (const t of tokens) await auth.verify(t);
    expect(auth.remembered).toBe(2);
    expect(await auth.verify(tokens[0])).toBe('phone-a');
    expect(auth.remembered).toBe(2);
  });
});
