import { setTimeout as sleep } from 'node:timers/promises';
import { TimeoutError } from '../errors.ts';
import type { Transport } from '../transport/types.ts';

/** (group, topic, and the topic's end offsets when the group joined at its end). */
export type GroupTopic = [groupId: string, topic: string, since?: number[]];

/**
 * True when some group has not yet committed everything its topic holds. A
 * group that joined at the end of a topic (fromBeginning false) commits
 * nothing for a partition that got no new record: `since[p]`, the end offsets
 * when it joined, count as consumed for it.
 */
export async function lagging(transport: Transport, pairs: readonly GroupTopic[]): Promise<boolean> {
  for (const [group, topic, since] of pairs) {
    const [end, committed] = await Promise.all([transport.endOffsets(topic), transport.committedOffsets(group, topic)]);
    if (end.some((e, p) => e > 0 && Math.max(committed[p] ?? -1, since?.[p] ?? -1) < e)) return true;
  }
  return false;
}

/** Waits until each (group, topic) has committed everything the topic holds. */
export async function drained(transport: Transport, pairs: readonly GroupTopic[], timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await lagging(transport, pairs))) return;
    await sleep(100);
  }
  throw new TimeoutError(`consumers did not catch up within ${timeoutMs} ms`);
}
