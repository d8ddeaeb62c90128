import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log/logger.ts';
import { missingTopicOf } from '../transport/missing-topic.ts';
import type { Transport } from '../transport/types.ts';

export interface TopicWaitOptions {
  logger: Logger;
  /** Stops the wait (SIGTERM while the topics are still missing). */
  signal: AbortSignal;
  /** Told the topics still missing after each look, for /healthz. */
  onMissing?: (topics: string[]) => void;
  /** Facts added to the log line (the health URL). */
  context?: Record<string, unknown>;
  /** @defaultValue 1000 */
  pollMs?: number;
  /** The wait is logged once, then again every this many ms while it lasts. @defaultValue 60_000 */
  remindMs?: number;
}

/**
 * Waits until every topic exists: a consumer started before `topics create` says once which topic is
 * missing and what makes it (then again once a minute), instead of a client error every few seconds,
 * and goes on as soon as the topics are there. A failure other than a missing topic (a broker that is
 * down) is thrown. Resolves false when `signal` stopped the wait first.
 */
export async function waitForTopics(
  transport: Transport,
  topics: readonly string[],
  o: TopicWaitOptions,
): Promise<boolean> {
  const pollMs = o.pollMs ?? 1000;
  const remindMs = o.remindMs ?? 60_000;
  let loggedAt = Number.NEGATIVE_INFINITY;
  const started = Date.now();
  for (;;) {
    const missing: string[] = [];
    for (const topic of topics) {
      try {
        await transport.endOffsets(topic);
      } catch (err) {
        if (missingTopicOf(err) !== topic) throw err;
        missing.push(topic);
      }
    }
    o.onMissing?.(missing);
    if (missing.length === 0) {
      if (loggedAt > Number.NEGATIVE_INFINITY)
        o.logger.info({ waitedMs: Date.now() - started }, 'the topics exist now; starting');
      return true;
    }
    if (Date.now() - loggedAt >= remindMs) {
      loggedAt = Date.now();
      o.logger.warn(
        { ...o.context, missing, transport: transport.kind },
        `${missing.length === 1 ? `topic "${missing[0]}" does not` : `topics "${missing[0]}" and ${missing.length - 1} more do not`} exist yet: create them with \`activity-tracking topics create\`; waiting for them, /healthz answers meanwhile and /readyz says not ready`,
      );
    }
    try {
      await sleep(pollMs, undefined, { signal: o.signal });
    } catch {
      return false;
    }
    if (o.signal.aborted) return false;
  }
}
