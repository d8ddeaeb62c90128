import type { DeviceStart, OffsetRange, PostDriftBurst } from './dataset.ts';

/** The drift being followed: its post-drift ranges grow, and retraining repeats as they do. */
export interface Episode {
  /** Key of the drift retraining that opened it. */
  key: string;
  /** Post-drift start per partition of the features topic. */
  from: Map<number, number>;
  devices: Set<string>;
  /** Each device's own post-drift start: its calibration compares what it sent before and after it. */
  starts: Map<string, DeviceStart>;
  /** Per device and activity, where its drift was first detected (docs/calibration.md). */
  detections: Map<string, number>;
  /** Records in the post-drift ranges at the last calibration check. */
  calibratedAt: number;
  /** Records in the post-drift ranges at the last retraining. */
  records: number;
  followUps: number;
}

/**
 * A drift retraining opens the episode that follow-ups retrain on as its data grows, or widens `open`
 * (the current episode while it has follow-ups left, else null) with the burst's devices and ranges.
 */
export function openEpisode(open: Episode | null, key: string, burst: PostDriftBurst, ends: number[]): Episode {
  const from = widen(new Map(open?.from ?? []), burst.ranges);
  const starts = mergeStarts(new Map(open?.starts ?? []), burst.starts);
  return {
    key,
    from,
    devices: new Set([...(open?.devices ?? []), ...burst.devices]),
    starts,
    detections: mergeMin(new Map(open?.detections ?? []), burst.detections),
    calibratedAt: 0,
    records: episodeRecords(from, ends),
    followUps: 0,
  };
}

/** Widens the episode in place with a burst of its own devices' drift: its next follow-up trains on it. */
export function foldIntoEpisode(e: Episode, burst: PostDriftBurst): void {
  widen(e.from, burst.ranges);
  mergeStarts(e.starts, burst.starts);
  mergeMin(e.detections, burst.detections);
}

/** The episode's post-drift ranges up to the topic's current ends (partitions with no record yet left out). */
export function episodeRanges(from: ReadonlyMap<number, number>, ends: readonly number[]): OffsetRange[] {
  return [...from]
    .map(([partition, fromOffset]) => ({ partition, fromOffset, toOffset: (ends[partition] ?? 0) - 1 }))
    .filter((r) => r.toOffset >= r.fromOffset);
}

/** Records from each partition's post-drift start to its end: how far the episode's data has grown. */
export function episodeRecords(from: ReadonlyMap<number, number>, ends: readonly number[]): number {
  let n = 0;
  for (const [partition, offset] of from) n += Math.max(0, (ends[partition] ?? 0) - offset);
  return n;
}

/** Moves each partition's post-drift start back to the earliest of `ranges`; returns `from`. */
function widen(from: Map<number, number>, ranges: readonly OffsetRange[]): Map<number, number> {
  for (const r of ranges) from.set(r.partition, Math.min(from.get(r.partition) ?? r.fromOffset, r.fromOffset));
  return from;
}

/** Keeps the smaller offset per key; returns `into`. */
function mergeMin(into: Map<string, number>, more: ReadonlyMap<string, number>): Map<string, number> {
  for (const [key, offset] of more) into.set(key, Math.min(into.get(key) ?? offset, offset));
  return into;
}

/** Keeps each device's earliest post-drift start; returns `into`. */
function mergeStarts(into: Map<string, DeviceStart>, more: ReadonlyMap<string, DeviceStart>): Map<string, DeviceStart> {
  for (const [device, s] of more) {
    const had = into.get(device);
    if (!had || s.offset < had.offset) into.set(device, s);
  }
  return into;
}
