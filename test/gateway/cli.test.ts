import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { DeviceAuth, TOKEN_AUDIENCE } from '../../src/gateway/auth.ts';
import { runInProcess } from '../support/cli.ts';
import { SECRET } from './support.ts';

describe('activity-tracking devices token', () => {
  it('issues a token the gateway accepts for that device, with the lifetime asked for', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { code, stdout, stderr } = await runInProcess(['devices', 'token', '--device', 'phone-7', '--ttl', '2h'], {
      GATEWAY_TOKEN_SECRET: SECRET,
    });
    expect(code, stderr).toBe(0);
    const token = stdout.trim();
    expect(await new DeviceAuth(SECRET).verify(token)).toBe('phone-7');
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ sub: 'phone-7', aud: TOKEN_AUDIENCE });
    expect(claims.exp! - claims.iat!).toBe(7200);
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    await expect(new DeviceAuth(`${SECRET}-other`).verify(token)).rejects.toMatchObject({ status: 401 });
  });

  it('refuses without the secret, with a short one, or with a bad lifetime (exit 78), never printing the secret', async () => {
    const missing = await runInProcess(['devices', 'token', '--device', 'p']);
    expect(missing.code).toBe(78);
    expect(missing.stderr).toMatch(/GATEWAY_TOKEN_SECRET/);
    const short = await runInProcess(['devices', 'token', '--device', 'p'], { GATEWAY_TOKEN_SECRET: 'tiny-secret' });
    expect(short.code).toBe(78);
    expect(short.stderr).toMatch(/at least 32 characters/);
    expect(short.stderr).not.toContain('tiny-secret');
    const ttl = await runInProcess(['devices', 'token', '--device', 'p', '--ttl', '2w'], {
      GATEWAY_TOKEN_SECRET: SECRET,
    });
    expect(ttl.code).toBe(78);
    expect(ttl.stderr).toMatch(/lifetime/);
  });

  it('refuses to start the gateway beyond loopback without the secret, before contacting a broker', async () => {
    const { code, stderr } = await runInProcess(['--transport', 'kafka', 'gateway', '--host', '0.0.0.0'], {
      KAFKA_BROKERS: '127.0.0.1:1',
    });
    expect(code).toBe(78);
    expect(stderr).toMatch(/beyond loopback.*GATEWAY_TOKEN_SECRET/);
  });
});
