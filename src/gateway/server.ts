import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ClientAbort, HttpError, readBody } from '../http/request.ts';
import { silentLogger } from '../log/logger.ts';
import { InFlightGate } from './admission.ts';
import { bearerToken, DeviceAuth, TOKEN_SECRET_ENV } from './auth.ts';
import { Ingestor, idempotencyKey } from './ingest.ts';
import { GatewayMetrics } from './metrics.ts';
import { type GatewayOptions, resolveGatewayOptions } from './options.ts';
import { ReadingsRejected, readingsMediaType, readingsType } from './readings.ts';
import { ReadingsStream } from './stream.ts';
import type { Gateway, GatewayErrorBody } from './types.ts';

export type { GatewayOptions } from './options.ts';
export type { Gateway, ReadingsAck, ReadingsAckV1, ReadingsAckV2 } from './types.ts';

/** The status counted for a client that hung up first (nginx's convention); never answered. */
const CLIENT_CLOSED = 499;
const READINGS_ROUTE = '/v1/readings';

/**
 * Starts the phone ingest gateway (docs/gateway.md): `POST /v1/readings` takes one sensor-readings body
 * (v1, or v2 named by the `ce-type` header; JSON or the compact binary encoding), checks the device
 * token and the readings at the edge, and answers 200 only once the log acknowledged the record;
 * `GET /v1/stream` does the same over a WebSocket, one message and one ack frame at a time
 * (src/gateway/stream.ts). With `tls` both are served over TLS only (HTTPS, WSS) on the same port.
 * /healthz, /readyz and /metrics are on the operations port (src/ops/server.ts), as for every other service.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const o = resolveGatewayOptions(options);
  const log = (o.logger ?? silentLogger).child({ component: 'gateway' });
  const auth = o.tokenSecret === undefined ? undefined : new DeviceAuth(o.tokenSecret);
  const gate = new InFlightGate(o.maxInFlight, o.maxInFlightBytes);
  const metrics = new GatewayMetrics(o.registry, { inFlight: () => gate.count, inFlightBytes: () => gate.bytes });
  const ingestor = new Ingestor(o, metrics, gate);
  let closing = false;

  const ingest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Cheapest refusals first: nothing is read or held for a request that cannot succeed.
    const device = auth ? await auth.verify(bearerToken(req.headers.authorization)) : undefined;
    const contentType = readingsMediaType(req.headers['content-type']);
    const type = readingsType(req.headers['ce-type']);
    const key = idempotencyKey(req.headers['idempotency-key']);
    const declared = req.headers['content-length'] === undefined ? Number.NaN : Number(req.headers['content-length']);
    if (declared > o.maxBodyBytes)
      throw new HttpError(413, 'body_too_large', `request body over ${o.maxBodyBytes} bytes`);
    const admitted = Number.isFinite(declared) ? declared : o.maxBodyBytes;
    ingestor.admit(admitted);
    let body: Buffer;
    try {
      body = await readBody(req, o.maxBodyBytes);
    } catch (err) {
      gate.release(admitted);
      throw err;
    }
    const { ack, replayed } = await ingestor.accept({ device, type, contentType, body, key, admitted });
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(ack),
      ...(replayed ? { 'idempotent-replayed': 'true' } : {}),
    });
    res.end(ack);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = (req.url ?? '/').split('?')[0];
    const route = url === READINGS_ROUTE ? url : 'other';
    try {
      if (route === 'other')
        throw new HttpError(404, 'not_found', `no route ${url}; readings go to POST ${READINGS_ROUTE}`);
      if (req.method !== 'POST') throw new HttpError(405, 'method_not_allowed', 'use POST', { allow: 'POST' });
      if (closing)
        throw new HttpError(503, 'shutting_down', 'the gateway is stopping; retry on another instance', {
          'retry-after': String(o.retryAfterSeconds),
          connection: 'close',
        });
      await ingest(req, res);
      metrics.requests.inc({ route, status: 200 });
    } catch (err) {
      if (err instanceof ClientAbort) {
        metrics.requests.inc({ route, status: CLIENT_CLOSED });
        return;
      }
      const e =
        err instanceof HttpError ? err : new HttpError(500, 'internal', 'internal error while taking the batch');
      if (e.status >= 500) log[e.status === 500 ? 'error' : 'warn']({ err, status: e.status }, 'batch not taken');
      metrics.requests.inc({ route, status: e.status });
      if (res.headersSent) return;
      const body: GatewayErrorBody = { error: e.code, message: e.message };
      if (e instanceof ReadingsRejected) body.reason = e.reason;
      const text = JSON.stringify(body);
      const headers: Record<string, string | number> = {
        ...e.headers,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      };
      // The body was not read: closing is cheaper than draining it, and the client must not reuse the socket mid-body.
      if (!req.complete) headers.connection = 'close';
      res.writeHead(e.status, headers);
      res.end(text);
    }
  };

  const httpOptions: ServerOptions = {
    headersTimeout: o.headersTimeoutMs,
    requestTimeout: o.requestTimeoutMs,
    keepAliveTimeout: o.keepAliveTimeoutMs,
    // The timeouts above are enforced by a sweep this often (30 s by default in Node 20).
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(o.headersTimeoutMs / 4))),
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => void handle(req, res);
  // An https.Server is an http.Server with a TLS layer under it: the routes, the WebSocket upgrade and
  // the close sequence below are the same. The handshake gets the headers' deadline, not TLS's 120 s
  // default: a peer that opens connections and never finishes a handshake must not hold slots longer
  // than one that never finishes its headers.
  const server: Server = o.tls
    ? createTlsServer(
        { ...httpOptions, cert: o.tls.cert, key: o.tls.key, handshakeTimeout: o.headersTimeoutMs },
        onRequest,
      )
    : createServer(httpOptions, onRequest);
  // A plain-HTTP request, a scanner or an untrusting phone fails its handshake: the connection is closed
  // and nothing more is owed (debug, not warn: the open internet sends these all day).
  server.on('tlsClientError', (err: Error) => log.debug({ err }, 'TLS handshake failed'));
  server.maxConnections = o.maxConnections;
  const stream = new ReadingsStream({
    auth,
    ingestor,
    metrics,
    logger: log,
    maxPayloadBytes: o.maxBodyBytes,
    maxInFlightPerConnection: o.streamMaxInFlight,
  });
  server.on('upgrade', (req, socket, head) => stream.upgrade(req, socket, head, closing));
  server.on('drop', () => metrics.dropped.inc());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const url = `${o.tls ? 'https' : 'http'}://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  if (!auth)
    log.warn(
      { url },
      `no ${TOKEN_SECRET_ENV}: devices are not authenticated (allowed on loopback only); set it before exposing the gateway`,
    );
  log.info({ url, topic: o.topic, tokens: auth !== undefined, tls: o.tls !== undefined }, 'gateway listening');

  return {
    url,
    ready: () => server.listening && !closing,
    details: () => ({
      inFlight: gate.count,
      inFlightBytes: gate.bytes,
      idempotencyKeys: ingestor.window.size,
      tokens: auth !== undefined,
      tls: o.tls !== undefined,
    }),
    close: async () => {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      stream.pause();
      // Batches admitted before the close get their acknowledgement; a publish outliving publishTimeoutMs
      // has been answered 503 already, and the caller bounds the whole stop.
      await gate.idle();
      stream.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
