import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LocalTarget } from '../../src/deploy/local.ts';
import { DeploymentError } from '../../src/errors.ts';
import { createLogger } from '../../src/log/logger.ts';
import { collectOutput } from '../support/cli.ts';

const PASSWORD = 'pw-Zq81-s3cret';
const TOKEN = 'tok-Xr5-s3cret';

/** A loopback port nothing listens on: bound by the OS, then released. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('a credentialed MLFLOW_TRACKING_URI never reaches output', () => {
  it('the serving process reports the unreachable server without the password or the token', async () => {
    const uri = `http://alice:${PASSWORD}@127.0.0.1:${await closedPort()}`;
    const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/serving/main.ts')], {
      env: {
        ...process.env,
        MODEL_NAME: 'har',
        MODEL_VERSION: '1',
        MODEL_DIR: '',
        TRACKING_DIR: '',
        MLFLOW_TRACKING_URI: uri,
        MLFLOW_TRACKING_TOKEN: TOKEN,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const outOf = collectOutput(child);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    const out = outOf();
    expect(out).toContain('"ready":false');
    expect(out).toMatch(/unreachable/);
    expect(out).not.toContain(PASSWORD);
    expect(out).not.toContain(TOKEN);
  }, 30_000);

  it('the local deployer logs the failed child without the password', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const target = new LocalTarget({
      trackingUri: `http://alice:${PASSWORD}@127.0.0.1:${await closedPort()}`,
      env: { MLFLOW_TRACKING_PASSWORD: PASSWORD },
      logger: createLogger({ destination: sink as never, level: 'debug' }),
    });
    const failed = await target.deploy({ name: 'har', version: 1 }).catch((e: unknown) => e);
    await target.close();
    expect(failed).toBeInstanceOf(DeploymentError);
    const record = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r.msg === 'deploy failed');
    // The child's stderr is relayed (so the reason is there), only the secret is not.
    expect(String(record?.stderr)).toMatch(/unreachable/);
    expect(lines.join('')).not.toContain(PASSWORD);
    expect(JSON.stringify({ message: (failed as Error).message, failed })).not.toContain(PASSWORD);
  }, 30_000);
});
