import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EmbeddedTrackingStore } from '../../src/tracking/embedded/store.ts';
import { trackingConformance } from './conformance.ts';

const run = promisify(execFile);
const fresh = () => mkdtempSync(path.join(tmpdir(), 'tracking-'));

trackingConformance('embedded', async () => new EmbeddedTrackingStore(fresh()));

describe('embedded tracking store', () => {
  it('two processes registering versions at once get 1..N without gaps or repeats', { timeout: 120_000 }, async () => {
    const dir = fresh();
    const store = new EmbeddedTrackingStore(dir);
    await store.ensureModel('m');
    const exp = await store.experiment('e');
    const { runId } = await store.startRun(exp);
    const ref = await store.logArtifact(runId, 'model.json', Buffer.from('{}'));
    const script = path.join(dir, 'writer.mts');
    writeFileSync(
      script,
      `import { EmbeddedTrackingStore } from ${JSON.stringify(path.resolve('src/tracking/embedded/store.ts'))};
const s = new EmbeddedTrackingStore(${JSON.stringify(dir)});
for (let i = 0; i < 15; i++) await s.createVersion('m', { runId: ${JSON.stringify(runId)}, artifactPath: 'model.json', artifactDigest: ${JSON.stringify(ref.digest)}, tags: { writer: process.argv[2] } });
`,
    );
    const writers = ['a', 'b'].map((w) =>
      run(process.execPath, ['--import', 'tsx', script, w], { cwd: path.resolve('.') }),
    );
    for (let i = 0; i < 15; i++)
      await store.createVersion('m', {
        runId,
        artifactPath: 'model.json',
        artifactDigest: ref.digest,
        tags: { writer: 'c' },
      });
    await Promise.all(writers);
    const versions = await store.listVersions('m');
    expect(versions.map((v) => v.version)).toEqual(Array.from({ length: 45 }, (_, i) => i + 1));
    for (const w of ['a', 'b', 'c']) expect(versions.filter((v) => v.tags.writer === w)).toHaveLength(15);
    // No temp files left behind, no lock held.
    expect(readdirSync(path.join(dir, 'models')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(readdirSync(dir)).not.toContain('LOCK');
  });

  it('takes over a lock whose owner died, and refuses one held by a live process with a clear error', async () => {
    const dir = fresh();
    const store = new EmbeddedTrackingStore(dir);
    writeFileSync(path.join(dir, 'LOCK'), `999999999@${(await import('node:os')).hostname()}`);
    await store.ensureModel('m');
    expect((await store.listVersions('m')).length).toBe(0);
    writeFileSync(path.join(dir, 'LOCK'), `${process.ppid}@${(await import('node:os')).hostname()}`);
    const { withLock } = await import('../../src/tracking/embedded/files.ts');
    await expect(withLock(dir, () => 1, 300)).rejects.toThrow(/is locked by .* for over 300 ms/);
  });

  // A lock is held for milliseconds; one older than the bound blocks nobody, whatever it names or holds.
  it.each([
    ['a live unrelated pid on this host', async () => `${process.ppid}@${(await import('node:os')).hostname()}`],
    [
      'a live pid in the JSON format',
      async () => JSON.stringify({ pid: process.ppid, host: (await import('node:os')).hostname(), token: 't', at: 0 }),
    ],
    ['nothing (a crash between create and write)', async () => ''],
    ['garbage', async () => '\u0000\u0001not a lock'],
    ['a pid on another host', async () => `${process.ppid}@elsewhere`],
  ])('takes over a lock older than the bound that holds %s', async (_what, content) => {
    const dir = fresh();
    const { withLock } = await import('../../src/tracking/embedded/files.ts');
    const lock = path.join(dir, 'LOCK');
    writeFileSync(lock, await content());
    // Young: waited for, then refused.
    await expect(withLock(dir, () => 1, 200, 60_000)).rejects.toThrow(/is locked by/);
    const old = (Date.now() - 120_000) / 1000;
    utimesSync(lock, old, old);
    expect(await withLock(dir, () => 'mine', 200, 60_000)).toBe('mine');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a lock holds pid, host, token and time, and is released only by its holder', async () => {
    const dir = fresh();
    const { withLock } = await import('../../src/tracking/embedded/files.ts');
    const { readFileSync } = await import('node:fs');
    const seen = await withLock(dir, () => JSON.parse(readFileSync(path.join(dir, 'LOCK'), 'utf8')));
    expect(seen).toMatchObject({ pid: process.pid, host: (await import('node:os')).hostname() });
    expect(seen.token).toMatch(/^[0-9a-f]{16}$/);
    expect(typeof seen.at).toBe('number');
    // A holder whose lock was taken over meanwhile leaves the new owner's lock in place.
    await withLock(dir, () => writeFileSync(path.join(dir, 'LOCK'), JSON.stringify({ ...seen, token: 'other' })));
    expect(readdirSync(dir)).toContain('LOCK');
  });

  it('concurrent takeovers of one stale lock leave exactly one holder at a time', async () => {
    const dir = fresh();
    const { withLock } = await import('../../src/tracking/embedded/files.ts');
    const lock = path.join(dir, 'LOCK');
    writeFileSync(lock, 'garbage');
    const old = (Date.now() - 120_000) / 1000;
    utimesSync(lock, old, old);
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withLock(dir, () => {
          inside++;
          most = Math.max(most, inside);
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(readdirSync(dir)).toEqual([]);
  });
});
