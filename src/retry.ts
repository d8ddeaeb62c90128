import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryOptions {
  /** @defaultValue 20 */
  attempts?: number;
  /** @defaultValue 100 */
  initialMs?: number;
  /** @defaultValue 1000 */
  maxMs?: number;
}

/**
 * Calls again while the error says it is `retriable` (STYLE habit 3: the flag, never the message),
 * with a linearly growing pause; a programmer error or a permanent failure is thrown at once.
 */
export async function retryRetriable<T>(call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 20;
  const initial = options.initialMs ?? 100;
  const max = options.maxMs ?? 1000;
  for (let i = 1; ; i++) {
    try {
      return await call();
    } catch (err) {
      if (i >= attempts || !isRetriable(err)) throw err;
      await sleep(Math.min(initial * i, max));
    }
  }
}

/** True when the error, or one of its causes, is marked retriable. */
export function isRetriable(err: unknown): boolean {
  for (let e = err as { retriable?: boolean; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.retriable === true) return true;
    e = e.cause as typeof e;
  }
  return false;
}
