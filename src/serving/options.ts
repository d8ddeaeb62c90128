import { InvalidOptionError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
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
  /**
   * Rows scored per event-loop turn. A 1,024-row k-NN batch scored in one go
   * held the loop (and `/healthz`) for 5.3 s; between slices the server
   * answers other requests. @defaultValue 64
   */
  scoreSliceRows?: number;
  /**
   * Batches of more than `scoreSliceRows` rows scored at once; one more is
   * refused with 503 and `Retry-After` rather than queued, so a client learns
   * at once to back off instead of waiting out its own timeout while the
   * server holds its parsed body. Requests of one slice are scored in a
   * single turn and never wait for a slot. @defaultValue 4
   */
  maxConcurrentScores?: number;
  /** An idle keep-alive connection is closed after this long. @defaultValue 5000 (Node's own) */
  keepAliveTimeoutMs?: number;
  /**
   * The request headers must arrive within this long of the connection (or of
   * the previous response); a connection that sends nothing is closed with 408.
   * Node's 60 s default let a probe hold 19,950 silent sockets. @defaultValue 10000
   */
  headersTimeoutMs?: number;
  /**
   * The whole request (headers and body) must arrive within this long; a body
   * sent at 1 byte/s was accepted for 45 s. At least `headersTimeoutMs`.
   * @defaultValue 10000 (1 MiB then needs 100 kB/s)
   */
  requestTimeoutMs?: number;
  /** Open connections; one more is closed on accept. @defaultValue 1024 (about 7 MB of sockets as measured) */
  maxConnections?: number;
  logger?: Logger;
}

export type ResolvedServingOptions = Required<Omit<ServingOptions, 'apiKey' | 'logger'>> &
  Pick<ServingOptions, 'apiKey' | 'logger'>;

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

function positiveInteger(name: string, value: number, min = 1): void {
  if (!Number.isInteger(value) || value < min)
    throw new InvalidOptionError(`${name} must be an integer >= ${min}, got ${value}`);
}

/** Applies the defaults and refuses an invalid option or combination, saying how to fix it. */
export function resolveServingOptions(options: ServingOptions): ResolvedServingOptions {
  const o: ResolvedServingOptions = {
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 1 << 20,
    maxBatch: 1024,
    scoreSliceRows: 64,
    maxConcurrentScores: 4,
    keepAliveTimeoutMs: 5000,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 10_000,
    maxConnections: 1024,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as ResolvedServingOptions;
  if (!LOOPBACK.has(o.host) && !o.apiKey)
    throw new InvalidOptionError(
      `serving bound to ${o.host} (beyond loopback) needs an API key: set apiKey (SERVING_API_KEY) or bind to 127.0.0.1`,
    );
  if (o.apiKey !== undefined && o.apiKey.length < 16)
    throw new InvalidOptionError('the serving API key must be at least 16 characters');
  positiveInteger('maxBodyBytes', o.maxBodyBytes, 1024);
  positiveInteger('maxBatch', o.maxBatch);
  positiveInteger('scoreSliceRows', o.scoreSliceRows);
  positiveInteger('maxConcurrentScores', o.maxConcurrentScores);
  positiveInteger('keepAliveTimeoutMs', o.keepAliveTimeoutMs);
  positiveInteger('headersTimeoutMs', o.headersTimeoutMs);
  positiveInteger('requestTimeoutMs', o.requestTimeoutMs);
  positiveInteger('maxConnections', o.maxConnections);
  // Node refuses the combination at createServer with a less helpful message.
  if (o.headersTimeoutMs > o.requestTimeoutMs)
    throw new InvalidOptionError(
      `headersTimeoutMs (${o.headersTimeoutMs}) must not exceed requestTimeoutMs (${o.requestTimeoutMs}): raise requestTimeoutMs or lower headersTimeoutMs`,
    );
  return o;
}
