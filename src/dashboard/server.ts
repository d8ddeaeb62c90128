import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidOptionError } from '../errors.ts';
import { type Logger, silentLogger } from '../log/logger.ts';
import { isLoopback, keyMatches, MIN_API_KEY_LENGTH, requestKey } from '../ops/server.ts';
import { DecodeError, decodeEvent } from '../schemas/cloudevents.ts';
import { EVENT_TYPES } from '../schemas/registry.ts';
import { TOPICS, type TopicNames } from '../topics.ts';
import type { RecordBatch, Subscription, Transport } from '../transport/types.ts';
import { renderPage } from './page.ts';
import { countReadings } from './readings.ts';
import { DashboardState, type DashboardStateOptions } from './state.ts';

export interface DashboardOptions {
  transport: Transport;
  /** @defaultValue TOPICS */
  topics?: TopicNames;
  /** The broadcast subscription's group id (a random suffix is added per instance). @defaultValue 'activity-tracking-dashboard' */
  groupId?: string;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** @defaultValue 0 (any free port) */
  port?: number;
  /** Required when `host` is not a loopback address; sent as `Authorization: Bearer <key>` or `x-api-key` (by a proxy). */
  apiKey?: string;
  /** Open `/events` streams; more are answered 503. @defaultValue 64 */
  maxClients?: number;
  /** Updates are sent at most this often, whatever the rate of records. @defaultValue 250 */
  pushIntervalMs?: number;
  /** A comment line on idle streams, so that proxies do not cut them. @defaultValue 15_000 */
  heartbeatMs?: number;
  state?: DashboardStateOptions;
  /** @defaultValue 'activity-tracking' */
  title?: string;
  logger?: Logger;
}

export interface Dashboard {
  readonly url: string;
  readonly state: DashboardState;
  /** Open `/events` streams. */
  clients(): number;
  close(): Promise<void>;
}

/** Refuses, before anything connects, a dashboard bound beyond loopback without a long enough key. */
export function checkDashboardBinding(host: string, apiKey: string | undefined): void {
  if (!isLoopback(host) && !apiKey)
    throw new InvalidOptionError(
      `the dashboard binds ${host}, beyond loopback: set an API key of at least ${MIN_API_KEY_LENGTH} characters in ACTIVITY_API_KEY (and have the proxy in front send it), or bind --host 127.0.0.1`,
    );
  if (apiKey !== undefined && apiKey.length < MIN_API_KEY_LENGTH)
    throw new InvalidOptionError(
      `ACTIVITY_API_KEY must be at least ${MIN_API_KEY_LENGTH} characters (a short key is guessed); generate one with: openssl rand -hex 24`,
    );
}

interface Client {
  res: ServerResponse;
  /** The last write was not flushed: skip updates until 'drain', then send the newest. */
  blocked: boolean;
}

/**
 * The live dashboard: follows the drift, model, deployment, prediction and dead-letter topics from
 * their beginning and sensor-readings from its end (broadcast subscriptions: every instance reads
 * everything and commits nothing; readings are counted, not decoded), folds them into a
 * DashboardState, and serves `GET /`
 * (one self-contained page), `GET /healthz` (JSON: records read, open streams) and `GET /events`
 * (Server-Sent Events: the whole state on connect, then after each change, at most every
 * `pushIntervalMs`). Loopback by default; beyond it only with an API key.
 */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const host = options.host ?? '127.0.0.1';
  checkDashboardBinding(host, options.apiKey);
  const log = (options.logger ?? silentLogger).child({ component: 'dashboard' });
  const topics = options.topics ?? TOPICS;
  const maxClients = options.maxClients ?? 64;
  const pushIntervalMs = options.pushIntervalMs ?? 250;
  const state = new DashboardState(options.state);
  const page = Buffer.from(renderPage(options.title ?? 'activity-tracking'));
  const clients = new Set<Client>();
  let flushTimer: NodeJS.Timeout | undefined;

  const frame = () => `event: state\ndata: ${JSON.stringify(state.snapshot(Date.now()))}\n\n`;
  const sendTo = (c: Client, text: string) => {
    c.blocked = !c.res.write(text);
  };
  const flush = () => {
    flushTimer = undefined;
    if (clients.size === 0) return;
    const text = frame();
    for (const c of clients) if (!c.blocked) sendTo(c, text);
  };
  const changed = () => {
    flushTimer ??= setTimeout(flush, pushIntervalMs);
  };

  const handler = async (batch: RecordBatch): Promise<void> => {
    const readings = batch.topic === topics.sensorReadings;
    for (const r of batch.records) {
      if (readings) {
        // The busiest topic: readings are counted from their header or bytes, never decoded, and only
        // calibrations (a few per episode) are decoded. What cannot be counted is the featurizer's to
        // dead-letter, so it is skipped here rather than counted twice.
        if (r.headers.ce_type !== EVENT_TYPES.deviceCalibration) {
          const counted = countReadings(r);
          if (counted) state.readings(counted.device, counted.samples, r.timestamp);
          continue;
        }
      }
      try {
        state.apply(decodeEvent(r.headers, r.value), r.timestamp);
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        state.undecodable(err.reason, `${r.topic}:${r.partition}:${r.offset}: ${err.message}`, r.timestamp);
      }
    }
    changed();
  };

  const events = (req: IncomingMessage, res: ServerResponse) => {
    if (clients.size >= maxClients) {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5' });
      res.end('{"error":"too many open dashboards"}');
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx buffers responses by default, which would hold the updates back.
      'x-accel-buffering': 'no',
    });
    const client: Client = { res, blocked: false };
    clients.add(client);
    res.on('drain', () => {
      client.blocked = false;
      sendTo(client, frame());
    });
    req.on('close', () => clients.delete(client));
    sendTo(client, `retry: 2000\n\n${frame()}`);
  };

  const server: Server = createServer((req, res) => {
    if (options.apiKey && !keyMatches(requestKey(req.headers), options.apiKey)) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"missing or wrong API key"}');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/') {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': page.length,
        // Only its own inline script and style, and its own stream.
        'content-security-policy':
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
      });
      res.end(req.method === 'HEAD' ? undefined : page);
    } else if (url === '/events' && req.method === 'GET') events(req, res);
    else if (url === '/healthz')
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ ok: true, records: state.records, clients: clients.size }));
    else res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
  // Requests carry no body: small limits keep a slow or hostile client from holding a socket
  // (requestTimeout bounds receiving the request, not the stream answering it).
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.maxHeadersCount = 50;
  server.maxConnections = maxClients + 32;

  const heartbeat = setInterval(() => {
    for (const c of clients) if (!c.blocked) sendTo(c, ': ping\n\n');
  }, options.heartbeatMs ?? 15_000);
  heartbeat.unref();

  let subscription: Subscription | undefined;
  let readingsSubscription: Subscription | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => resolve());
    });
    const groupId = options.groupId ?? 'activity-tracking-dashboard';
    // Side by side: on Kafka each is a group join of its own, seconds each.
    const [events, readings] = await Promise.allSettled([
      options.transport.subscribe({
        groupId,
        topics: [
          topics.driftEvents,
          topics.modelEvents,
          topics.deploymentEvents,
          topics.predictions,
          topics.deadLetter,
        ],
        broadcast: true,
        fromBeginning: true,
        handler,
      }),
      // From the end: the readings' history (days of every phone) would be read at every start for a rate
      // that only looks back seconds. Calibrations logged before the start are missed with it: a drift
      // they closed shows as open until `openDriftMs` after it (docs/operations.md, "Dashboard").
      options.transport.subscribe({
        groupId: `${groupId}-readings`,
        topics: [topics.sensorReadings],
        broadcast: true,
        fromBeginning: false,
        handler,
      }),
    ]);
    if (events.status === 'fulfilled') subscription = events.value;
    if (readings.status === 'fulfilled') readingsSubscription = readings.value;
    if (events.status === 'rejected') throw events.reason;
    if (readings.status === 'rejected') throw readings.reason;
  } catch (err) {
    clearInterval(heartbeat);
    await Promise.allSettled([subscription?.stop(), readingsSubscription?.stop()]);
    server.close();
    throw err;
  }
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  log.info({ url }, 'dashboard listening');
  return {
    url,
    state,
    clients: () => clients.size,
    close: async () => {
      clearInterval(heartbeat);
      clearTimeout(flushTimer);
      // Side by side, as they started: each may wait out a fetch in flight and the deletion of its group.
      await Promise.all([readingsSubscription?.stop(), subscription?.stop()]);
      for (const c of clients) c.res.end();
      clients.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
