import { setTimeout as sleep } from 'node:timers/promises';
import { decodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import { TOPICS, type TopicNames } from '../../src/topics.ts';
import { readTopic } from '../../src/transport/read.ts';
import type { Transport } from '../../src/transport/types.ts';

export interface RejectionCheckOptions {
  /** The devices this run sent readings for: dead letters keyed by another device are not its own. */
  devices: ReadonlySet<string>;
  /** End offsets of the readings topic before the run's first publish. */
  sentFrom: readonly number[];
  /** End offsets of the readings topic once the run's last publish was acknowledged. */
  sentUpTo: readonly number[];
  /** End offsets of the dead-letter topic before the run's first publish: older dead letters are not its own. */
  deadLettersFrom: readonly number[];
  /** The consumer group whose progress says the run's readings were read. @defaultValue 'activity-tracking-featurizer' */
  group?: string;
  /** Longest wait for the group to read the run's readings. @defaultValue 60_000 */
  timeoutMs?: number;
  /** Stops waiting sooner when the group's offsets have not moved for this long (no featurizer running). @defaultValue 10_000 */
  stallMs?: number;
  /** @defaultValue 250 */
  pollMs?: number;
  topics?: Pick<TopicNames, 'sensorReadings' | 'deadLetter'>;
}

export interface RejectionReport {
  /**
   * `caught-up`: the group read every reading of the run, so the count is final; `behind`: it had not
   * when the wait ended (the count covers what it had read); `no-reader`: the group has read nothing of
   * the readings topic, ever (no featurizer has run with it).
   */
  status: 'caught-up' | 'behind' | 'no-reader';
  /** Readings messages of this run that were dead-lettered (each counted once, redeliveries aside). */
  rejected: number;
  /** Rejected messages per reason code (docs/schemas.md). */
  reasons: Record<string, number>;
  /** The message of the first dead letter, which usually says it all (`... but 69182 was expected`). */
  example?: string;
  /** Messages of the run the group had not read when the wait ended. */
  unread: number;
  /** Where the run's dead letters start: the dead-letter topic's offset per partition before the run. */
  deadLettersFrom: readonly number[];
}

/**
 * After a replay: waits (bounded) until the featurizer's group has read the run's readings, then counts
 * the dead letters about the run's devices since the run began. A replay that the featurizer refuses
 * (sequences that restart at 0 on devices it knows: issue 15, item 4) is then reported, not a success.
 */
export async function checkRejections(transport: Transport, options: RejectionCheckOptions): Promise<RejectionReport> {
  const topics = options.topics ?? TOPICS;
  const group = options.group ?? 'activity-tracking-featurizer';
  const timeoutMs = options.timeoutMs ?? 60_000;
  const stallMs = options.stallMs ?? 10_000;
  const pollMs = options.pollMs ?? 250;
  const unreadOf = (committed: readonly number[]) =>
    options.sentUpTo.reduce(
      (sum, end, p) => sum + Math.max(0, end - Math.max(options.sentFrom[p] ?? 0, committed[p] ?? -1)),
      0,
    );
  const deadline = Date.now() + timeoutMs;
  let status: RejectionReport['status'] = 'behind';
  let unread = Number.POSITIVE_INFINITY;
  let movedAt = Date.now();
  for (;;) {
    const committed = await transport.committedOffsets(group, topics.sensorReadings);
    if (committed.every((o) => o < 0)) {
      status = 'no-reader';
      unread = unreadOf(committed);
      break;
    }
    const now = unreadOf(committed);
    if (now < unread) movedAt = Date.now();
    unread = now;
    if (unread === 0) {
      status = 'caught-up';
      break;
    }
    if (Date.now() >= deadline || Date.now() - movedAt >= stallMs) break;
    await sleep(pollMs);
  }
  const reasons: Record<string, number> = {};
  const seen = new Set<string>();
  let example: string | undefined;
  for await (const r of readTopic(transport, topics.deadLetter, options.deadLettersFrom)) {
    if (r.key === null || !options.devices.has(r.key)) continue;
    const { data } = decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.deadLetter] });
    if (data.original.topic !== topics.sensorReadings) continue;
    const id = `${data.original.partition}/${data.original.offset}`;
    if (seen.has(id)) continue;
    seen.add(id);
    reasons[data.reason] = (reasons[data.reason] ?? 0) + 1;
    example ??= data.message;
  }
  return {
    status,
    rejected: seen.size,
    reasons,
    ...(example !== undefined ? { example } : {}),
    unread,
    deadLettersFrom: options.deadLettersFrom,
  };
}
