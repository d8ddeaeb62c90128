import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.ts';
import { markApplied, StreamStates, type Tracked } from '../../src/pipeline/stream-state.ts';

interface Counter extends Tracked {
  n: number;
}

const encode = (s: Counter) => Buffer.from(JSON.stringify({ n: s.n }));
const decode = (b: Uint8Array) => JSON.parse(Buffer.from(b).toString()) as { n: number };

/** A StreamStates of counters on a clock the test moves, evicting after 60 s idle. */
function counters(dir?: string) {
  const clock = { now: 0 };
  const states = new StreamStates<Counter>(encode, decode, {
    idleMs: 60_000,
    clock: () => clock.now,
    ...(dir ? { dir } : {}),
  });
  const bump = (key: string, partition: number, offset: number) => {
    const s = states.get(key, partition) ?? states.start(key, { n: 0 }, partition);
    s.n++;
    markApplied(s, offset);
  };
  return { clock, states, bump };
}

describe('idle eviction', () => {
  it('never evicts a dirty stream, however long it has been idle', () => {
    const { clock, states, bump } = counters();
    bump('a', 0, 0);
    clock.now = 3_600_000;
    // Changed since the last checkpoint: it is snapshotted, not evicted, and its idle time starts again.
    expect(states.takeCheckpoint(0).map((s) => s.key)).toEqual(['a']);
    expect(states.size).toBe(1);
    clock.now += 59_999;
    expect(states.takeCheckpoint(0)).toEqual([]);
    expect(states.evicted).toBe(0);
    bump('a', 0, 1);
    clock.now += 3_600_000;
    expect(states.takeCheckpoint(0).map((s) => s.key)).toEqual(['a']);
    expect([states.size, states.evicted]).toEqual([1, 0]);
    clock.now += 60_000;
    expect(states.takeCheckpoint(0)).toEqual([]);
    expect([states.size, states.evicted]).toEqual([0, 1]);
  });

  it('evicts the same way when checkpoints are spread (changedStreams, then snapshotStream per stream)', () => {
    const { clock, states, bump } = counters();
    bump('a', 0, 0);
    bump('b', 0, 1);
    clock.now = 3_600_000;
    // Both changed: listed and snapshotted one by one, never evicted.
    expect(states.changedStreams(0).sort()).toEqual(['a', 'b']);
    bump('b', 0, 2); // a record after the checkpoint began: still written by it, its newest state
    expect(states.snapshotStream('a')?.offset).toBe(0);
    expect(states.snapshotStream('b')?.offset).toBe(2);
    expect([states.size, states.evicted]).toEqual([2, 0]);
    clock.now += 60_000;
    bump('b', 0, 3);
    // The next checkpoint's start: 'a', clean and idle, leaves memory; 'b' changed and is listed.
    expect(states.changedStreams(0)).toEqual(['b']);
    expect([states.size, states.evicted]).toEqual([1, 1]);
    expect(states.get('a', 0)).toMatchObject({ n: 1, appliedUpTo: 0, dirty: false });
  });

  it('brings an evicted stream back on its next record, as it was, and skips records it already holds', () => {
    const { clock, states, bump } = counters();
    for (let i = 0; i < 5; i++) bump('a', 2, i);
    states.takeCheckpoint(2);
    clock.now = 60_000;
    states.takeCheckpoint(2);
    expect([states.size, states.evicted]).toEqual([0, 1]);
    const back = states.get('a', 2)!;
    expect(back).toMatchObject({ n: 5, partition: 2, appliedUpTo: 4, dirty: false, seenAt: 60_000 });
    expect([states.size, states.evicted]).toEqual([1, 0]);
    // Looked up under another partition, a stream is not there (a stream's records all come from one).
    expect(states.get('b', 2)).toBeUndefined();
  });

  it("drops a revoked partition's spilled streams, and a restored partition's", () => {
    const { clock, states, bump } = counters();
    bump('a', 0, 0);
    bump('b', 1, 0);
    bump('c', 2, 0);
    for (const p of [0, 1, 2]) states.takeCheckpoint(p);
    clock.now = 60_000;
    for (const p of [0, 1, 2]) states.takeCheckpoint(p);
    expect(states.evicted).toBe(3);
    const dir = states.spillDir!;
    expect(readdirSync(dir).sort()).toEqual(['p0', 'p1', 'p2']);
    states.onRevoked([{ topic: 't', partition: 0 }]);
    expect(existsSync(path.join(dir, 'p0'))).toBe(false);
    expect(states.evicted).toBe(2);
    expect(states.get('a', 0)).toBeUndefined();
    // A restore replaces the partition's state with the checkpoint topic's: its spill is stale.
    states.restore(1, []);
    expect(existsSync(path.join(dir, 'p1'))).toBe(false);
    expect(states.get('b', 1)).toBeUndefined();
    expect(states.get('c', 2)?.n).toBe(1);
    expect(states.evicted).toBe(0);
  });

  it('clears a given spill directory when it starts, and keeps every stream with eviction off', () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'eviction-test-')), 'featurizer');
    mkdirSync(path.join(dir, 'p0'), { recursive: true });
    writeFileSync(path.join(dir, 'p0', 'stale'), 'from a previous run');
    const { states } = counters(dir);
    expect(existsSync(dir)).toBe(false);
    expect(states.get('stale', 0)).toBeUndefined();

    const clock = { now: 0 };
    const kept = new StreamStates<Counter>(encode, decode, { idleMs: false, clock: () => clock.now });
    kept.start('a', { n: 0 }, 0);
    clock.now = 1e12;
    kept.takeCheckpoint(0);
    expect([kept.size, kept.evicted, kept.spillDir]).toEqual([1, 0, undefined]);
  });

  it('refuses an idle time that is not a positive number of milliseconds', () => {
    for (const idleMs of [0, -1, Number.NaN])
      expect(() => new StreamStates<Counter>(encode, decode, { idleMs })).toThrow(InvalidOptionError);
  });
});
