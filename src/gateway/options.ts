import { createSecureContext } from 'node:tls';
import type { Registry } from 'prom-client';
import { InvalidOptionError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { isLoopback } from '../ops/server.ts';
import { TOPICS } from '../topics.ts';
import type { Producer } from '../transport/types.ts';
import { MIN_SECRET_LENGTH, TOKEN_SECRET_ENV } from './auth.ts';

export interface GatewayOptions {
  /** Where readings go; the gateway never closes it (its owner does). */
  producer: Producer;
  /** @defaultValue 'sensor-readings' */
  topic?: string;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** 0 lets the OS choose. @defaultValue 0 */
  port?: number;
  /**
   * HS256 secret the device tokens are signed with (GATEWAY_TOKEN_SECRET), at least 32 characters.
   * Without it every request is accepted as the device its body names, which is allowed on loopback only.
   */
  tokenSecret?: string;
  /**
   * Serve HTTPS and WSS with this certificate chain and private key (PEM) instead of plain HTTP and WS:
   * both or neither. Checked at start (a key that does not match the certificate is refused there, not
   * at the first phone's handshake). Device tokens are still what authenticates a phone; TLS keeps them
   * and the readings private on the way. @defaultValue plain HTTP
   */
  tls?: GatewayTls;
  /** `ce_source` of the events the gateway publishes. @defaultValue 'activity-tracking/gateway' */
  source?: string;
  /**
   * Largest request body, bytes. The schemas' largest bodies: v1 (500 samples with labels) about 80 kB
   * as JSON and 25 kB as float64 binary; v2 (2,000 rows of 6 at full double precision with timestamps
   * and labels) about 320 kB as JSON and 130 kB as float64 binary. @defaultValue 524288 (512 KiB)
   */
  maxBodyBytes?: number;
  /** Open connections; one more is closed on accept. @defaultValue 4096 */
  maxConnections?: number;
  /** Request headers must arrive within this long of the connection or the previous response. @defaultValue 10000 */
  headersTimeoutMs?: number;
  /** The whole request (headers and body) must arrive within this long. @defaultValue 30000 */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this long; a phone posting every second keeps its own. @defaultValue 15000 */
  keepAliveTimeoutMs?: number;
  /**
   * Batches between admission and broker acknowledgement; one more is answered 429 with Retry-After
   * instead of queued, so memory stays bounded when the broker falls behind. @defaultValue 4096
   */
  maxInFlight?: number;
  /** Body bytes held by those batches (a body of unknown length counts as `maxBodyBytes`). @defaultValue 64 MiB */
  maxInFlightBytes?: number;
  /**
   * A publish not acknowledged within this long is answered 503: the client retries with the same
   * Idempotency-Key and waits on the publish still under way instead of sending the batch again.
   * @defaultValue 10000
   */
  publishTimeoutMs?: number;
  /** Seconds in the Retry-After of a 429 or 503. @defaultValue 1 */
  retryAfterSeconds?: number;
  /** An acknowledged batch id is remembered this long. @defaultValue 300000 (5 min) */
  idempotencyWindowMs?: number;
  /** ... and at most this many of them, the oldest forgotten first (a few hundred bytes each). @defaultValue 100000 */
  idempotencyMaxEntries?: number;
  /**
   * Concurrent publishes; batches arriving meanwhile are sent together in the next one (group commit):
   * one broker round trip per request at low load, fewer and larger ones under load. @defaultValue 8
   */
  publishConcurrency?: number;
  /** Bytes of record values per coalesced publish, under the broker's 1 MiB `message.max.bytes`. @defaultValue 524288 */
  publishBatchBytes?: number;
  /**
   * Messages of one WebSocket awaiting their ack; beyond it the socket is not read until acks come.
   * @defaultValue 64
   */
  streamMaxInFlight?: number;
  /** Registry of the gateway's metrics (the process's /metrics). @defaultValue a registry of its own */
  registry?: Registry;
  logger?: Logger;
}

export interface GatewayTls {
  /** The certificate, then any intermediates, PEM. */
  cert: string | Buffer;
  /** Its private key, PEM (unencrypted: the gateway asks for no passphrase). */
  key: string | Buffer;
}

export type ResolvedGatewayOptions = Required<Omit<GatewayOptions, 'tokenSecret' | 'tls' | 'registry' | 'logger'>> &
  Pick<GatewayOptions, 'tokenSecret' | 'tls' | 'registry' | 'logger'>;

function integerAtLeast(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min)
    throw new InvalidOptionError(`gateway option ${name} must be an integer >= ${min}, got ${value}`);
}

/** Applies the defaults and refuses an invalid option or combination, saying how to fix it. */
export function resolveGatewayOptions(options: GatewayOptions): ResolvedGatewayOptions {
  const o = {
    topic: TOPICS.sensorReadings,
    host: '127.0.0.1',
    port: 0,
    source: 'activity-tracking/gateway',
    maxBodyBytes: 512 * 1024,
    maxConnections: 4096,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    keepAliveTimeoutMs: 15_000,
    maxInFlight: 4096,
    maxInFlightBytes: 64 * 1024 * 1024,
    publishTimeoutMs: 10_000,
    retryAfterSeconds: 1,
    idempotencyWindowMs: 300_000,
    idempotencyMaxEntries: 100_000,
    publishConcurrency: 8,
    publishBatchBytes: 512 * 1024,
    streamMaxInFlight: 64,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as ResolvedGatewayOptions;
  if (o.tokenSecret !== undefined && o.tokenSecret.length < MIN_SECRET_LENGTH)
    throw new InvalidOptionError(
      `${TOKEN_SECRET_ENV} must be at least ${MIN_SECRET_LENGTH} characters (HS256 wants a 256-bit key); generate one with: openssl rand -hex 32`,
    );
  if (!isLoopback(o.host) && o.tokenSecret === undefined)
    throw new InvalidOptionError(
      `the gateway binds ${o.host}, beyond loopback, where devices must authenticate: set ${TOKEN_SECRET_ENV} (openssl rand -hex 32) and issue tokens with \`activity-tracking devices token --device ID\`, or bind --host 127.0.0.1`,
    );
  if (o.tls !== undefined) checkTls(o.tls);
  integerAtLeast('port', o.port, 0);
  if (o.port > 65_535) throw new InvalidOptionError(`gateway option port must be 0-65535, got ${o.port}`);
  integerAtLeast('maxBodyBytes', o.maxBodyBytes, 1024);
  integerAtLeast('maxConnections', o.maxConnections, 1);
  integerAtLeast('headersTimeoutMs', o.headersTimeoutMs, 1);
  integerAtLeast('requestTimeoutMs', o.requestTimeoutMs, 1);
  integerAtLeast('keepAliveTimeoutMs', o.keepAliveTimeoutMs, 1);
  integerAtLeast('maxInFlight', o.maxInFlight, 1);
  integerAtLeast('maxInFlightBytes', o.maxInFlightBytes, 1);
  integerAtLeast('publishTimeoutMs', o.publishTimeoutMs, 1);
  integerAtLeast('retryAfterSeconds', o.retryAfterSeconds, 1);
  integerAtLeast('idempotencyWindowMs', o.idempotencyWindowMs, 1);
  integerAtLeast('idempotencyMaxEntries', o.idempotencyMaxEntries, 1);
  integerAtLeast('publishConcurrency', o.publishConcurrency, 1);
  integerAtLeast('publishBatchBytes', o.publishBatchBytes, 1);
  integerAtLeast('streamMaxInFlight', o.streamMaxInFlight, 1);
  if (o.headersTimeoutMs > o.requestTimeoutMs)
    throw new InvalidOptionError(
      `gateway headersTimeoutMs (${o.headersTimeoutMs}) must not exceed requestTimeoutMs (${o.requestTimeoutMs}): raise requestTimeoutMs or lower headersTimeoutMs`,
    );
  if (o.maxInFlightBytes < o.maxBodyBytes)
    throw new InvalidOptionError(
      `gateway maxInFlightBytes (${o.maxInFlightBytes}) is below maxBodyBytes (${o.maxBodyBytes}): no body of the largest size could ever be admitted; raise maxInFlightBytes`,
    );
  if (o.idempotencyMaxEntries < o.maxInFlight)
    throw new InvalidOptionError(
      `gateway idempotencyMaxEntries (${o.idempotencyMaxEntries}) is below maxInFlight (${o.maxInFlight}): batches would be forgotten while their retries can still arrive; raise idempotencyMaxEntries`,
    );
  return o;
}

/** Both halves present, and a pair OpenSSL takes: what would otherwise fail every handshake, found at start. */
function checkTls(tls: GatewayTls): void {
  const missing = (['cert', 'key'] as const).filter((k) => !tls[k] || tls[k].length === 0);
  if (missing.length > 0)
    throw new InvalidOptionError(
      `gateway TLS needs both a certificate and its private key; the ${missing.join(' and ')} is missing (--tls-cert FILE --tls-key FILE, or neither for plain HTTP)`,
    );
  try {
    createSecureContext({ cert: tls.cert, key: tls.key });
  } catch (err) {
    throw new InvalidOptionError(
      `gateway TLS certificate and key are not a usable PEM pair (${(err as Error).message}): give the certificate chain and the unencrypted private key it was issued for`,
      { cause: err },
    );
  }
}
