import { timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidOptionError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type { PipelineMetrics } from '../metrics/metrics.ts';

export interface Health {
  /** Alive: `/healthz` answers 200 when true, 503 when false. */
  ok: boolean;
  /**
   * Doing its work (a consumer whose topics exist and that has started): `/readyz` answers 200
   * only when `ok` and this are both true. @defaultValue true
   */
  ready?: boolean;
  /** Shown as JSON; no secrets. */
  details?: Record<string, unknown>;
}

export interface OpsServerOptions {
  metrics: PipelineMetrics;
  health: () => Health | Promise<Health>;
  /** @defaultValue 0 (any free port) */
  port?: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** Required when `host` is not a loopback address; sent as `Authorization: Bearer <key>` or `x-api-key`. */
  apiKey?: string;
  logger?: Logger;
}

export interface OpsServer {
  url: string;
  close(): Promise<void>;
}

/** As for the serving API key (src/serving/server.ts): a key anyone can guess protects nothing. */
export const MIN_API_KEY_LENGTH = 16;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

/** Compares an API key in constant time. */
export function keyMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The key a request carries, from `Authorization: Bearer` or `x-api-key`. */
export function requestKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7);
  const key = headers['x-api-key'];
  return typeof key === 'string' ? key : undefined;
}

/**
 * The operations endpoint of a long-running consumer: `GET /metrics`
 * (Prometheus text from prom-client), `GET /healthz` (liveness: 200 or 503
 * with JSON details) and `GET /readyz` (200 only once ready, the same JSON).
 * Loopback by default; bound beyond it only with an API key.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host) && !options.apiKey)
    throw new InvalidOptionError(
      `the operations server binds ${host}, beyond loopback: set an API key of at least ${MIN_API_KEY_LENGTH} characters in ACTIVITY_API_KEY, or bind --metrics-host 127.0.0.1`,
    );
  if (options.apiKey !== undefined && options.apiKey.length < MIN_API_KEY_LENGTH)
    throw new InvalidOptionError(
      `ACTIVITY_API_KEY must be at least ${MIN_API_KEY_LENGTH} characters (a short key is guessed); generate one with: openssl rand -hex 24`,
    );
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (options.apiKey && !keyMatches(requestKey(req.headers), options.apiKey)) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"missing or wrong API key"}');
        return;
      }
      if (req.method !== 'GET') {
        res.writeHead(405, { allow: 'GET' }).end();
        return;
      }
      if (req.url === '/metrics') {
        res.writeHead(200, { 'content-type': options.metrics.registry.contentType });
        res.end(await options.metrics.registry.metrics());
      } else if (req.url === '/healthz' || req.url === '/readyz') {
        const h = await options.health();
        const ready = h.ok && h.ready !== false;
        const up = req.url === '/healthz' ? h.ok : ready;
        res.writeHead(up ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: h.ok, ready, ...h.details }));
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      }
    })().catch((err: unknown) => {
      options.logger?.error({ err }, 'operations endpoint failed');
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  // Requests carry no body here: small limits keep a slow or hostile client from holding the socket.
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.maxHeadersCount = 50;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  options.logger?.info({ url }, 'operations endpoint listening');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scraper's keep-alive connection would hold the close (and the consumer's exit) until it idles out.
        server.closeIdleConnections();
      }),
  };
}
