import { ActivityTrackingError, RecordTooLargeError } from '../errors.ts';
import { HttpError } from '../http/request.ts';
import type { ContentType } from '../schemas/cloudevents.ts';
import type { InFlightGate } from './admission.ts';
import { IdempotencyWindow, type IdempotentOutcome } from './dedupe.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { ResolvedGatewayOptions } from './options.ts';
import { CoalescingPublisher } from './publisher.ts';
import { bodyDigest, decodeReadings, type ReadingsType, readingsAck, readingsRecord, streamKey } from './readings.ts';

/** Printable ASCII without blanks, as most idempotency-key schemes (Stripe's, the IETF draft's) use. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;

export interface Batch {
  /** The device the token names; undefined when the gateway runs without tokens (loopback only). */
  device: string | undefined;
  /** The readings type the client named (`ce-type`, or the stream's `type`). */
  type: ReadingsType;
  contentType: ContentType;
  body: Buffer;
  /** The client's batch id. */
  key: string | undefined;
  /**
   * A stream message: deduplicated without a client key by its device and what identifies a resent batch
   * (`ws:<sequence>`, or `ws:<sensor>:<first time>` for v2).
   */
  streamKey?: boolean;
  /** Bytes counted at admission. */
  admitted: number;
}

/** Checks a client batch id (the Idempotency-Key header). */
export function idempotencyKey(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !IDEMPOTENCY_KEY.test(value))
    throw new HttpError(
      400,
      'invalid_idempotency_key',
      'Idempotency-Key must be 1 to 128 printable ASCII characters without blanks (a UUID, <device>:<sequence>, or <device>:<sensor>:<first time> for timed readings)',
    );
  return value;
}

/**
 * The transport-independent core shared by the HTTP and WebSocket endpoints: admission, validation,
 * the device check, the idempotency window and the publish, each batch answered only once the log
 * acknowledged it.
 */
export class Ingestor {
  readonly gate: InFlightGate;
  readonly window: IdempotencyWindow;
  readonly #publisher: CoalescingPublisher;
  readonly #o: ResolvedGatewayOptions;
  readonly #metrics: GatewayMetrics;

  constructor(o: ResolvedGatewayOptions, metrics: GatewayMetrics, gate: InFlightGate) {
    this.#o = o;
    this.#metrics = metrics;
    this.gate = gate;
    this.window = new IdempotencyWindow({ ttlMs: o.idempotencyWindowMs, maxEntries: o.idempotencyMaxEntries });
    this.#publisher = new CoalescingPublisher(o.producer, {
      concurrency: o.publishConcurrency,
      maxBatchBytes: o.publishBatchBytes,
    });
  }

  /** 429 unless a batch of `bytes` fits the in-flight bounds; the caller then hands it to `accept`. */
  admit(bytes: number): void {
    if (!this.gate.tryAcquire(bytes))
      throw new HttpError(
        429,
        'overloaded',
        `the gateway holds ${this.gate.count} batches (${this.gate.bytes} bytes) not yet acknowledged by the log; retry after the delay with the same Idempotency-Key`,
        { 'retry-after': String(this.#o.retryAfterSeconds) },
      );
  }

  /**
   * Validates and publishes an admitted batch. Its admission is released when its publish settles, not
   * when the client is answered: a publish that outlives `publishTimeoutMs` still holds its bytes.
   */
  async accept(batch: Batch): Promise<IdempotentOutcome> {
    const started = performance.now();
    const { body } = batch;
    let held = batch.admitted;
    let releaseOnExit = true;
    const release = () => this.gate.release(held);
    try {
      this.gate.resize(held, body.length);
      held = body.length;
      const readings = decodeReadings(batch.type, batch.contentType, body, this.#o.maxBodyBytes);
      const { data } = readings;
      if (batch.device !== undefined && data.device !== batch.device)
        throw new HttpError(
          403,
          'device_mismatch',
          `the token is for device "${batch.device}", the readings are from "${data.device}": a device sends as itself only`,
        );
      const record = readingsRecord(this.#o.topic, this.#o.source, batch.contentType, readings, body);
      const ack = readingsAck(readings, batch.key);
      const samples = data.samples.length;
      const publish = () =>
        this.#publisher.publish(record).then(() => {
          this.#metrics.samples.inc(samples);
          return JSON.stringify(ack);
        });
      const key = batch.key ?? (batch.streamKey ? streamKey(readings) : undefined);
      // Scoped by device: two phones may pick the same key.
      const outcome =
        key === undefined
          ? publish().then((text) => ({ ack: text, replayed: false }))
          : this.window.run(`${data.device}\n${key}`, bodyDigest(batch.type, batch.contentType, body), publish);
      releaseOnExit = false;
      outcome.then(release, release);
      const result = await this.#bounded(outcome);
      if (result.replayed) this.#metrics.replays.inc();
      else this.#metrics.ackSeconds.observe((performance.now() - started) / 1000);
      return result;
    } catch (err) {
      throw this.#answer(err);
    } finally {
      if (releaseOnExit) release();
    }
  }

  #bounded<T>(outcome: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new HttpError(
              503,
              'publish_timeout',
              `the log did not acknowledge the batch within ${this.#o.publishTimeoutMs} ms; retry with the same Idempotency-Key (the publish may still complete)`,
              { 'retry-after': String(this.#o.retryAfterSeconds) },
            ),
          ),
        this.#o.publishTimeoutMs,
      );
    });
    return Promise.race([outcome, timeout]).finally(() => clearTimeout(timer));
  }

  /** The client's answer for an error of the log. */
  #answer(err: unknown): unknown {
    if (err instanceof HttpError) return err;
    if (err instanceof RecordTooLargeError)
      return new HttpError(413, 'record_too_large', 'the log refused the batch for its size; send fewer samples');
    if (err instanceof ActivityTrackingError && err.retriable)
      return Object.assign(
        new HttpError(503, 'publish_failed', 'the log did not take the batch; retry with the same Idempotency-Key', {
          'retry-after': String(this.#o.retryAfterSeconds),
        }),
        { cause: err },
      );
    return err;
  }
}
