import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrackingError } from '../../src/errors.ts';
import { createTrackingBackend } from '../../src/tracking/index.ts';
import { MlflowTrackingStore } from '../../src/tracking/mlflow/store.ts';

/** A stand-in MLflow that answers get-by-name only to the expected Authorization header. */
let server: Server;
let port: number;
const seen: IncomingMessage[] = [];
let expected = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req);
    res.setHeader('content-type', 'application/json');
    if (req.headers.authorization !== expected) {
      res.statusCode = 401;
      res.end(JSON.stringify({ error_code: 'UNAUTHENTICATED', message: 'credentials required' }));
      return;
    }
    res.end(JSON.stringify({ experiment: { experiment_id: '7' } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('MLflow credentials', () => {
  it('takes the userinfo out of the URI and sends it as Basic auth', async () => {
    expected = basic('alice', 'p@ss:word');
    seen.length = 0;
    const store = new MlflowTrackingStore({
      uri: `http://alice:${encodeURIComponent('p@ss:word')}@127.0.0.1:${port}/`,
    });
    expect(await store.experiment('e')).toBe('7');
    expect(seen).toHaveLength(1);
    expect(seen[0]?.url).toMatch(/^\/api\/2\.0\/mlflow\/experiments\/get-by-name\?/);
    expect(seen[0]?.url).not.toContain('alice');
    expect(seen[0]?.headers.host).toBe(`127.0.0.1:${port}`);
  });

  it('reads MLFLOW_TRACKING_USERNAME / _PASSWORD, and MLFLOW_TRACKING_TOKEN as Bearer (which wins, as in MLflow)', async () => {
    expected = basic('bob', 'hunter2');
    const env = { MLFLOW_TRACKING_USERNAME: 'bob', MLFLOW_TRACKING_PASSWORD: 'hunter2' };
    const viaEnv = createTrackingBackend({ env: { ...env, MLFLOW_TRACKING_URI: `http://x:y@127.0.0.1:${port}` } });
    expect(await (viaEnv as MlflowTrackingStore).experiment('e')).toBe('7');

    expected = 'Bearer tk-42';
    const viaToken = createTrackingBackend({
      env: { ...env, MLFLOW_TRACKING_TOKEN: 'tk-42', MLFLOW_TRACKING_URI: `http://127.0.0.1:${port}` },
    });
    expect(await (viaToken as MlflowTrackingStore).experiment('e')).toBe('7');
  });

  it('a refused or unreachable server fails with an error that quotes no password', async () => {
    expected = basic('alice', 'right');
    const refused = await new MlflowTrackingStore({ uri: `http://alice:wrong-s3cret@127.0.0.1:${port}` })
      .experiment('e')
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TrackingError);
    expect((refused as TrackingError).context).toMatchObject({ status: 401 });
    expect(JSON.stringify({ m: (refused as Error).message, e: refused })).not.toContain('s3cret');

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unreachable = await new MlflowTrackingStore({
      uri: `http://alice:s3cret@127.0.0.1:${closedPort}`,
      timeoutMs: 500,
    })
      .experiment('e')
      .catch((e: unknown) => e);
    expect(unreachable).toBeInstanceOf(TrackingError);
    expect((unreachable as Error).message).toContain(`http://127.0.0.1:${closedPort}`);
    expect(`${(unreachable as Error).message} ${String((unreachable as Error).cause)}`).not.toContain('s3cret');
  });
});
