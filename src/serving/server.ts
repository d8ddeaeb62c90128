import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, Registry } from 'prom-client';
import { InvalidOptionError } from '../errors.ts';
import { FEATURE_SET, Featurizer, INPUT_CHANNELS, WINDOW } from '../features/index.ts';
import { type Logger, silentLogger } from '../log/logger.ts';
import type { LoadedModel } from '../model/types.ts';
import { ajv } from '../schemas/registry.ts';
import type { ModelRef, ModelSource } from './model-source.ts';

export interface ServingOptions {
  source: ModelSource;
  model: ModelRef;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** 0 lets the OS choose. @defaultValue 0 */
  port?: number;
  /** Required when `host` is not a loopback address; sent as `x-api-key`. */
  apiKey?: string;
  /** Largest request body accepted, bytes. @defaultValue 1 MiB (about 500 vectors of 218 features) */
  maxBodyBytes?: number;
  /** Largest batch accepted. @defaultValue 1024 */
  maxBatch?: number;
  logger?: Logger;
}

export interface ServingServer {
  readonly url: string;
  readonly model: ModelRef & { digest: string };
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

const vectorSchema = { type: 'array', items: { type: 'number' }, minItems: 1 };
const scoreSchema = {
  $id: 'urn:activity-tracking:serving:score-request',
  oneOf: [
    { type: 'object', additionalProperties: false, required: ['vector'], properties: { vector: vectorSchema } },
    {
      type: 'object',
      additionalProperties: false,
      required: ['readings'],
      properties: {
        readings: {
          type: 'array',
          minItems: WINDOW,
          maxItems: WINDOW,
          items: { type: 'array', minItems: INPUT_CHANNELS, maxItems: INPUT_CHANNELS, items: { type: 'number' } },
        },
      },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['vectors'],
      properties: { vectors: { type: 'array', minItems: 1, items: vectorSchema } },
    },
  ],
};
const validateScore = ajv.getSchema(scoreSchema.$id) ?? ajv.compile(scoreSchema);

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Starts the serving process' HTTP server: POST /score, GET /healthz, /readyz,
 * /metrics. The model is loaded (and digest-checked) before the socket opens,
 * so `/readyz` answering 200 means the version is loaded.
 */
export async function startServing(options: ServingOptions): Promise<ServingServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const maxBodyBytes = options.maxBodyBytes ?? 1 << 20;
  const maxBatch = options.maxBatch ?? 1024;
  if (!LOOPBACK.has(host) && !options.apiKey)
    throw new InvalidOptionError(
      `serving bound to ${host} (beyond loopback) needs an API key: set apiKey (SERVING_API_KEY) or bind to 127.0.0.1`,
    );
  if (options.apiKey !== undefined && options.apiKey.length < 16)
    throw new InvalidOptionError('the serving API key must be at least 16 characters');
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1024)
    throw new InvalidOptionError(`maxBodyBytes must be an integer >= 1024, got ${maxBodyBytes}`);
  const log = (options.logger ?? silentLogger).child({ component: 'serving' });

  const loaded: LoadedModel = await options.source(options.model);
  const { classifier } = loaded;
  const dims = (classifier as { standardizer?: { dimensions: number } }).standardizer?.dimensions;
  const keyBytes = options.apiKey ? Buffer.from(options.apiKey) : undefined;

  const registry = new Registry();
  const requests = new Counter({
    name: 'serving_requests_total',
    help: 'Requests by route and status',
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
  const versionLabel = { model: options.model.name, version: options.model.version, digest: loaded.digest };

  const readBody = (req: IncomingMessage): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > maxBodyBytes) {
        reject(new HttpError(413, 'body_too_large', `request body over ${maxBodyBytes} bytes`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBodyBytes) {
          reject(new HttpError(413, 'body_too_large', `request body over ${maxBodyBytes} bytes`));
          req.pause();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });

  const score = async (req: IncomingMessage): Promise<unknown> => {
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json'))
      throw new HttpError(415, 'unsupported_media_type', 'content-type must be application/json');
    const body = await readBody(req);
    let input: unknown;
    try {
      input = JSON.parse(body.toString('utf8'));
    } catch {
      throw new HttpError(400, 'invalid_json', 'request body is not JSON');
    }
    if (!validateScore(input)) {
      const e = validateScore.errors?.[0];
      throw new HttpError(400, 'schema_violation', `${e?.instancePath || '(body)'} ${e?.message ?? 'is invalid'}`);
    }
    const req2 = input as { vector?: number[]; vectors?: number[][]; readings?: number[][] };
    let rows: (number[] | Float64Array)[];
    if (req2.readings) {
      if (classifier.featureSet !== FEATURE_SET)
        throw new HttpError(
          400,
          'feature_set_mismatch',
          `the model takes ${classifier.featureSet}, not ${FEATURE_SET} windows`,
        );
      // A standalone window: the gravity filter starts from this window's first sample (the stream featurizer's is warm).
      const windows = new Featurizer().push(req2.readings.flat());
      rows = [windows[0].features];
    } else rows = req2.vectors ?? [req2.vector!];
    if (rows.length > maxBatch) throw new HttpError(400, 'batch_too_large', `at most ${maxBatch} vectors per request`);
    if (dims !== undefined)
      for (let i = 0; i < rows.length; i++)
        if (rows[i].length !== dims)
          throw new HttpError(
            400,
            'wrong_dimensions',
            `vector ${i} has ${rows[i].length} features, the model needs ${dims}`,
          );
    const probs = classifier.predictProba(rows);
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

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = (req.url ?? '/').split('?')[0];
    let route = url;
    try {
      if (url === '/healthz' || url === '/readyz') {
        if (req.method !== 'GET') throw new HttpError(405, 'method_not_allowed', 'use GET');
        send(res, 200, { status: 'ok', ...versionLabel });
      } else if (url === '/metrics') {
        if (!authorized(req)) throw new HttpError(401, 'unauthorized', 'x-api-key header missing or wrong');
        send(res, 200, await registry.metrics(), registry.contentType);
      } else if (url === '/score') {
        if (req.method !== 'POST') throw new HttpError(405, 'method_not_allowed', 'use POST');
        if (!authorized(req)) throw new HttpError(401, 'unauthorized', 'x-api-key header missing or wrong');
        const end = latency.startTimer();
        const out = await score(req);
        end();
        send(res, 200, out);
      } else {
        route = 'other';
        throw new HttpError(404, 'not_found', `no route ${url}`);
      }
      requests.inc({ route, status: 200 });
    } catch (err) {
      const e =
        err instanceof HttpError ? err : new HttpError(500, 'internal', 'internal error while handling the request');
      if (e.status >= 500) log.error({ err }, 'request failed');
      requests.inc({ route, status: e.status });
      if (e.status === 413) res.setHeader('connection', 'close');
      if (!res.headersSent) send(res, e.status, { error: e.code, message: e.message });
    }
  };

  const server: Server = createServer({ requestTimeout: 30_000 }, (req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${shownHost}:${addr.port}`;
  log.info({ url, ...versionLabel }, 'serving');
  return {
    url,
    model: { ...options.model, digest: loaded.digest },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
