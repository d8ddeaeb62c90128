import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { InvalidValueError } from '../errors.ts';
import { silentLogger } from '../log/logger.ts';
import type { LoadedModel } from '../model/types.ts';
import type { ModelRef } from './model-source.ts';
import { resolveServingOptions, type ServingOptions } from './options.ts';
import { ClientAbort, HttpError, isJsonMediaType, readBody, scoreRows } from './request.ts';
import { predictInSlices, ScoreGate } from './scoring.ts';

export type { ServingOptions } from './options.ts';

export interface ServingServer {
  readonly url: string;
  readonly model: ModelRef & { digest: string };
  close(): Promise<void>;
}

/** The status counted for a client that hung up first (nginx's convention); never answered, never a 5xx. */
const CLIENT_CLOSED = 499;

/**
 * Starts the serving process' HTTP server: POST /score, GET /healthz, /readyz,
 * /metrics. The model is loaded (and digest-checked) before the socket opens,
 * so `/readyz` answering 200 means the version is loaded.
 */
export async function startServing(options: ServingOptions): Promise<ServingServer> {
  const o = resolveServingOptions(options);
  const log = (o.logger ?? silentLogger).child({ component: 'serving' });

  const loaded: LoadedModel = await o.source(o.model);
  const { classifier } = loaded;
  const dims = (classifier as { standardizer?: { dimensions: number } }).standardizer?.dimensions;
  const keyBytes = o.apiKey ? Buffer.from(o.apiKey) : undefined;
  const gate = new ScoreGate(o.maxConcurrentScores);

  const registry = new Registry();
  const requests = new Counter({
    name: 'serving_requests_total',
    help: `Requests by route and status (${CLIENT_CLOSED}: the client hung up first)`,
    labelNames: ['route', 'status'],
    registers: [registry],
  });
  const predictions = new Counter({ name: 'serving_predictions_total', help: 'Rows scored', registers: [registry] });
  const latency = new Histogram({
    name: 'serving_score_seconds',
    help: 'POST /score handling time',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
    registers: [registry],
  });
  new Gauge({
    name: 'serving_scores_in_flight',
    help: 'Batches being scored in slices',
    registers: [registry],
    collect() {
      this.set(gate.inFlight);
    },
  });
  const dropped = new Counter({
    name: 'serving_connections_dropped_total',
    help: 'Connections closed on accept because maxConnections were open',
    registers: [registry],
  });
  const versionLabel = { model: o.model.name, version: o.model.version, digest: loaded.digest };

  const score = async (req: IncomingMessage, res: ServerResponse): Promise<unknown> => {
    if (!isJsonMediaType(req.headers['content-type']))
      throw new HttpError(415, 'unsupported_media_type', 'content-type must be application/json (charset utf-8)');
    const body = await readBody(req, o.maxBodyBytes);
    let input: unknown;
    try {
      input = JSON.parse(body.toString('utf8'));
    } catch {
      throw new HttpError(400, 'invalid_json', 'request body is not JSON');
    }
    const rows = scoreRows(input, classifier.featureSet);
    if (rows.length > o.maxBatch)
      throw new HttpError(400, 'batch_too_large', `at most ${o.maxBatch} vectors per request`);
    if (dims !== undefined)
      for (let i = 0; i < rows.length; i++)
        if (rows[i].length !== dims)
          throw new HttpError(
            400,
            'wrong_dimensions',
            `vector ${i} has ${rows[i].length} features, the model needs ${dims}`,
          );
    const sliced = rows.length > o.scoreSliceRows;
    if (sliced && !gate.tryEnter())
      throw new HttpError(
        503,
        'overloaded',
        `${o.maxConcurrentScores} batches are being scored; retry later or send smaller batches`,
        { 'retry-after': '1' },
      );
    let probs: number[][];
    try {
      const aborted = new AbortController();
      res.once('close', () => {
        if (!res.writableFinished) aborted.abort(new ClientAbort());
      });
      probs = await predictInSlices(classifier, rows, o.scoreSliceRows, aborted.signal);
    } catch (err) {
      // Finite but extreme values (1e308) can overflow in the model's own scaling.
      if (err instanceof InvalidValueError) throw new HttpError(400, 'invalid_value', err.message);
      throw err;
    } finally {
      if (sliced) gate.leave();
    }
    predictions.inc(rows.length);
    const classes = classifier.classes;
    const results = probs.map((p) => {
      let best = 0;
      for (let c = 1; c < p.length; c++) if (p[c] > p[best]) best = c;
      const probabilities: Record<string, number> = {};
      for (let c = 0; c < p.length; c++) probabilities[classes[c]] = p[c];
      return { activity: classes[best], probabilities };
    });
    return { ...versionLabel, predictions: results };
  };

  const send = (res: ServerResponse, status: number, body: unknown, type = 'application/json') => {
    const text = type === 'application/json' ? JSON.stringify(body) : String(body);
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const authorized = (req: IncomingMessage): boolean => {
    if (!keyBytes) return true;
    const given = Buffer.from(String(req.headers['x-api-key'] ?? ''));
    return given.length === keyBytes.length && timingSafeEqual(given, keyBytes);
  };

  const allow = (req: IncomingMessage, method: string) => {
    if (req.method !== method) throw new HttpError(405, 'method_not_allowed', `use ${method}`, { allow: method });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = (req.url ?? '/').split('?')[0];
    let route = url;
    try {
      if (url === '/healthz' || url === '/readyz') {
        allow(req, 'GET');
        send(res, 200, { status: 'ok', ...versionLabel });
      } else if (url === '/metrics') {
        allow(req, 'GET');
        if (!authorized(req)) throw new HttpError(401, 'unauthorized', 'x-api-key header missing or wrong');
        send(res, 200, await registry.metrics(), registry.contentType);
      } else if (url === '/score') {
        allow(req, 'POST');
        if (!authorized(req)) throw new HttpError(401, 'unauthorized', 'x-api-key header missing or wrong');
        const end = latency.startTimer();
        const out = await score(req, res);
        end();
        send(res, 200, out);
      } else {
        route = 'other';
        throw new HttpError(404, 'not_found', `no route ${url}`);
      }
      requests.inc({ route, status: 200 });
    } catch (err) {
      if (err instanceof ClientAbort) {
        log.debug({ route }, 'client closed the connection before the response');
        requests.inc({ route, status: CLIENT_CLOSED });
        return;
      }
      const e =
        err instanceof HttpError ? err : new HttpError(500, 'internal', 'internal error while handling the request');
      if (e.status >= 500 && e.status !== 503) log.error({ err }, 'request failed');
      requests.inc({ route, status: e.status });
      if (res.headersSent) return;
      for (const [name, value] of Object.entries(e.headers)) res.setHeader(name, value);
      if (e.status === 413) res.setHeader('connection', 'close');
      send(res, e.status, { error: e.code, message: e.message });
    }
  };

  const server: Server = createServer(
    {
      headersTimeout: o.headersTimeoutMs,
      requestTimeout: o.requestTimeoutMs,
      // The timeouts above are enforced by a sweep every this often (30 s by
      // default, which is how a 30 s limit let a slow body run for 45 s).
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(o.headersTimeoutMs / 4))),
    },
    (req, res) => void handle(req, res),
  );
  server.keepAliveTimeout = o.keepAliveTimeoutMs;
  server.maxConnections = o.maxConnections;
  server.on('drop', () => dropped.inc());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${shownHost}:${addr.port}`;
  log.info({ url, ...versionLabel }, 'serving');
  return {
    url,
    model: { ...o.model, digest: loaded.digest },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
