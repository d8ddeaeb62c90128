import { describe, expect, it } from 'vitest';
import { IdempotencyWindow } from '../../src/gateway/dedupe.ts';

describe('IdempotencyWindow', () => {
  it('forgets keys by age and by count, oldest first', async () => {
    let now = 0;
    const window = new IdempotencyWindow({ ttlMs: 1000, maxEntries: 3, now: () => now });
    let publishes = 0;
    const publish = (ack: string) => async () => {
      publishes++;
      return ack;
    };
    for (const k of ['a', 'b', 'c']) await window.run(k, 'd', publish(k));
    expect(await window.run('a', 'd', publish('again'))).toEqual({ ack: 'a', replayed: true });
    await window.run('d', 'd', publish('d'));
    expect(window.size).toBe(3);
    expect(await window.run('a', 'd', publish('a2'))).toEqual({ ack: 'a2', replayed: false });
    now = 999;
    expect((await window.run('c', 'd', publish('c2'))).replayed).toBe(true);
    now = 1500;
    // c, d and a2 were acknowledged at 0: all three are past the window now.
    expect(await window.run('c', 'd', publish('c3'))).toEqual({ ack: 'c3', replayed: false });
    expect(window.size).toBe(1);
    expect(publishes).toBe(6);
  });

  it('forgets a failed attempt at once, and refuses the same key with another digest', async () => {
    const window = new IdempotencyWindow({ ttlMs: 1000, maxEntries: 10 });
    await expect(window.run('k', 'd1', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(window.pending).toBe(0);
    expect(await window.run('k', 'd1', async () => 'ok')).toEqual({ ack: 'ok', replayed: false });
    await expect(window.run('k', 'd2', async () => 'other')).rejects.toMatchObject({ status: 422 });
  });
});
