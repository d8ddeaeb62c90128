import { HttpError } from '../http/request.ts';

export interface IdempotencyWindowOptions {
  /** An acknowledged key is remembered this long after its acknowledgement. */
  ttlMs: number;
  /** At most this many acknowledged keys; the oldest is forgotten first. */
  maxEntries: number;
  /** Monotonic clock in ms. @defaultValue performance.now */
  now?: () => number;
}

export interface IdempotentOutcome {
  /** The acknowledgement, serialized once: a replay answers the very same bytes. */
  ack: string;
  /** True when this call did not publish: the key was acknowledged, or in flight, already. */
  replayed: boolean;
}

interface Done {
  digest: string;
  ack: string;
  expiresAt: number;
}

interface Pending {
  digest: string;
  promise: Promise<string>;
}

/**
 * Remembers client batch ids (Idempotency-Key) within a window bounded by count and by time, so that
 * a phone that retries after a timeout neither loses nor duplicates readings:
 * - a retry of an acknowledged batch gets the same acknowledgement without a second publish;
 * - a retry while the first attempt is in flight waits for that attempt's outcome;
 * - a failed attempt is forgotten at once, so the next retry publishes;
 * - the same key with another body is refused (422), as it is not a retry.
 *
 * Acknowledged keys sit in a Map in acknowledgement order, so with a single TTL the oldest is always at
 * the front: expiry and eviction by count pop from there, O(1) per key. In-flight keys are kept apart
 * and never evicted (their number is bounded by the gateway's in-flight limit).
 */
export class IdempotencyWindow {
  readonly #done = new Map<string, Done>();
  readonly #pending = new Map<string, Pending>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: IdempotencyWindowOptions) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Acknowledged keys remembered now. */
  get size(): number {
    return this.#done.size;
  }

  /** Keys whose first attempt is in flight. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Runs `publish` once per `key` within the window and answers every attempt with its acknowledgement.
   * `digest` identifies the body; a different one under the same key is refused.
   */
  async run(key: string, digest: string, publish: () => Promise<string>): Promise<IdempotentOutcome> {
    const now = this.#now();
    this.#expire(now);
    const done = this.#done.get(key);
    if (done !== undefined) {
      if (done.digest !== digest) throw reused();
      return { ack: done.ack, replayed: true };
    }
    const pending = this.#pending.get(key);
    if (pending !== undefined) {
      if (pending.digest !== digest) throw reused();
      return { ack: await pending.promise, replayed: true };
    }
    const promise = publish();
    this.#pending.set(key, { digest, promise });
    let ack: string;
    try {
      ack = await promise;
    } finally {
      this.#pending.delete(key);
    }
    this.#done.set(key, { digest, ack, expiresAt: this.#now() + this.#ttlMs });
    this.#expire(this.#now());
    return { ack, replayed: false };
  }

  #expire(now: number): void {
    for (const [key, entry] of this.#done) {
      if (this.#done.size <= this.#maxEntries && entry.expiresAt > now) return;
      this.#done.delete(key);
    }
  }
}

function reused(): HttpError {
  return new HttpError(
    422,
    'idempotency_key_reused',
    'this Idempotency-Key was used for another body; a retry must send the same bytes, a new batch a new key',
  );
}
