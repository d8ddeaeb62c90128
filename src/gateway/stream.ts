import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { HttpError } from '../http/request.ts';
import type { Logger } from '../log/logger.ts';
import { READINGS_BINARY_CONTENT_TYPE } from '../schemas/cloudevents.ts';
import { bearerToken, type DeviceAuth } from './auth.ts';
import type { Ingestor } from './ingest.ts';
import type { GatewayMetrics } from './metrics.ts';
import { ReadingsRejected, type ReadingsType, readingsType } from './readings.ts';

export const STREAM_ROUTE = '/v1/stream';
/** The subprotocol the gateway speaks; a client offers it with its token (docs/gateway.md). */
export const STREAM_PROTOCOL = 'activity-tracking.v1';
/** The query parameter of the connection URL that names the readings type of every message (v1 when absent). */
export const STREAM_TYPE_PARAM = 'type';
/** Prefix of the Sec-WebSocket-Protocol entry that carries the token, for clients that cannot set headers (browsers). */
const TOKEN_PROTOCOL_PREFIX = 'bearer.';

export interface StreamOptions {
  auth: DeviceAuth | undefined;
  ingestor: Ingestor;
  metrics: GatewayMetrics;
  logger: Logger;
  maxPayloadBytes: number;
  /** Messages of one connection awaiting their ack; beyond it the socket stops being read. */
  maxInFlightPerConnection: number;
}

/** The token from `Authorization: Bearer` or from a `bearer.<token>` entry of Sec-WebSocket-Protocol. */
function streamToken(req: IncomingMessage): string | undefined {
  const header = bearerToken(req.headers.authorization);
  if (header !== undefined) return header;
  for (const p of String(req.headers['sec-websocket-protocol'] ?? '').split(',')) {
    const entry = p.trim();
    if (entry.startsWith(TOKEN_PROTOCOL_PREFIX)) return entry.slice(TOKEN_PROTOCOL_PREFIX.length);
  }
  return undefined;
}

function refuseUpgrade(socket: Duplex, e: HttpError): void {
  const body = JSON.stringify({ error: e.code, message: e.message });
  const headers = Object.entries({ ...e.headers, 'content-type': 'application/json', connection: 'close' })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${e.status} ${e.code}\r\n${headers}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/**
 * `GET /v1/stream` upgraded to a WebSocket: one sensor-readings body per message (a text frame is JSON,
 * a binary frame the compact encoding), of the type the connection URL names (`?type=…`, v1 when absent:
 * one type per connection, as the frames carry no envelope), one ack frame per message once the log
 * acknowledged it, in the order the acks come. Each message is deduplicated by its device and sequence
 * (v2: sensor and first time), so a phone that
 * reconnects and sends again what was not acknowledged duplicates nothing. When the gateway or the
 * connection is at its in-flight bound, the socket is no longer read (TCP backpressure reaches the
 * phone) until acks free room: no message is refused for load, none queued without bound.
 */
export class ReadingsStream {
  readonly #o: StreamOptions;
  readonly #wss: WebSocketServer;
  #stopping = false;

  constructor(options: StreamOptions) {
    this.#o = options;
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxPayloadBytes,
      // The token entry is never echoed back: only the gateway's own subprotocol is selected.
      handleProtocols: (protocols) => (protocols.has(STREAM_PROTOCOL) ? STREAM_PROTOCOL : false),
    });
  }

  /** Handles the HTTP server's `upgrade` event. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, closing: boolean): void {
    void (async () => {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const path = q < 0 ? url : url.slice(0, q);
      if (path !== STREAM_ROUTE) throw new HttpError(404, 'not_found', `no WebSocket at ${path}; use ${STREAM_ROUTE}`);
      if (closing) throw new HttpError(503, 'shutting_down', 'the gateway is stopping', { 'retry-after': '1' });
      const device = this.#o.auth ? await this.#o.auth.verify(streamToken(req)) : undefined;
      const type = readingsType(
        new URLSearchParams(q < 0 ? '' : url.slice(q + 1)).get(STREAM_TYPE_PARAM) ?? undefined,
        `the ${STREAM_TYPE_PARAM} parameter`,
      );
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#serve(ws, device, type));
    })().catch((err: unknown) => {
      const e = err instanceof HttpError ? err : new HttpError(500, 'internal', 'internal error');
      this.#o.metrics.requests.inc({ route: STREAM_ROUTE, status: e.status });
      refuseUpgrade(socket, e);
    });
  }

  /** Stops reading every stream, so that the messages in flight can reach their acks before `close`. */
  pause(): void {
    this.#stopping = true;
    for (const ws of this.#wss.clients) ws.pause();
  }

  /** Closes every stream (1001, going away); a peer that does not answer the close is cut off after a second. */
  close(): void {
    for (const ws of this.#wss.clients) {
      ws.close(1001, 'gateway stopping');
      setTimeout(() => ws.terminate(), 1000).unref();
    }
    this.#wss.close();
  }

  #serve(ws: WebSocket, device: string | undefined, type: ReadingsType): void {
    const { ingestor, metrics, maxInFlightPerConnection } = this.#o;
    let n = 0;
    let inFlight = 0;
    // Messages received while paused wait here, in order; at most the few frames ws had parsed already.
    const backlog: { index: number; data: Buffer; binary: boolean }[] = [];
    let draining = false;

    const send = (frame: Record<string, unknown>) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
    };
    const settle = () => {
      inFlight--;
      if (ws.isPaused && inFlight < maxInFlightPerConnection && backlog.length === 0 && !this.#stopping) ws.resume();
    };
    const handle = (index: number, data: Buffer, binary: boolean) => {
      inFlight++;
      ingestor
        .accept({
          device,
          type,
          contentType: binary ? READINGS_BINARY_CONTENT_TYPE : 'application/json',
          body: data,
          key: undefined,
          streamKey: true,
          admitted: data.length,
        })
        .then(
          ({ ack }) => {
            metrics.requests.inc({ route: STREAM_ROUTE, status: 200 });
            if (ws.readyState === ws.OPEN) ws.send(`{"n":${index},${ack.slice(1)}`);
          },
          (err: unknown) => {
            const e = err instanceof HttpError ? err : new HttpError(500, 'internal', 'internal error');
            metrics.requests.inc({ route: STREAM_ROUTE, status: e.status });
            if (e.status >= 500) this.#o.logger.warn({ err, status: e.status }, 'stream message not taken');
            send({
              n: index,
              ok: false,
              error: e.code,
              message: e.message,
              ...(e instanceof ReadingsRejected ? { reason: e.reason } : {}),
            });
          },
        )
        .finally(settle);
    };
    // Admits the backlog in order; waits for room in the gateway (socket paused) when it is full.
    const drain = async () => {
      if (draining) return;
      draining = true;
      try {
        while (backlog.length > 0 && ws.readyState === ws.OPEN) {
          if (this.#stopping) {
            ws.pause();
            return;
          }
          const next = backlog[0];
          if (!ingestor.gate.tryAcquire(next.data.length)) {
            ws.pause();
            await ingestor.gate.room();
            continue;
          }
          backlog.shift();
          handle(next.index, next.data, next.binary);
          if (inFlight >= maxInFlightPerConnection) ws.pause();
        }
      } finally {
        draining = false;
      }
      if (ws.isPaused && inFlight < maxInFlightPerConnection && !this.#stopping) ws.resume();
    };

    ws.on('message', (data: Buffer, binary: boolean) => {
      backlog.push({ index: n++, data, binary });
      void drain();
    });
    ws.on('error', (err) => this.#o.logger.debug({ err }, 'stream connection error'));
  }
}
