import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** @defaultValue 30_000 */
  timeoutMs?: number;
  /** @defaultValue 25 */
  intervalMs?: number;
}

/**
 * Polls `predicate` until it returns true; throws naming `what` once `timeoutMs` pass. The one way a
 * test waits (STYLE habit 12): on a condition, bounded, never on a fixed sleep that hopes the
 * condition holds by then. A predicate that throws fails the wait at once.
 */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  { timeoutMs = 30_000, intervalMs = 25 }: WaitOptions = {},
): Promise<void> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() >= deadline) break;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${Date.now() - started} ms (limit ${timeoutMs} ms) waiting for ${what}`);
}
