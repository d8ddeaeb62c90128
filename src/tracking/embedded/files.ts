import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConflictError } from '../../errors.ts';

/**
 * Writes a file so that a crash at any moment leaves either the old content
 * or the new, never a mix: temp file in the same folder, fsync, rename over,
 * fsync the folder.
 */
export function writeAtomic(file: string, bytes: Buffer | string): void {
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

export function readJson<T>(file: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as T;
}

export const writeJson = (file: string, value: unknown) => writeAtomic(file, `${JSON.stringify(value, null, 1)}\n`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What a lock file holds (JSON); older stores wrote `pid@host`, still read. */
interface LockOwner {
  pid: number;
  host: string;
  token: string;
  /** ms since the epoch, when the lock was taken. */
  at: number;
}

function parseOwner(text: string): Partial<LockOwner> | undefined {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (o !== null && typeof o === 'object' && typeof o.pid === 'number' && typeof o.host === 'string') return o;
  } catch {
    const m = /^(\d+)@(.+)$/.exec(text.trim());
    if (m) return { pid: Number(m[1]), host: m[2] };
  }
  return undefined;
}

/**
 * A lock is held for one synchronous read-modify-write of a few small files (milliseconds): older than
 * this, it cannot belong to a writer that is still working, whatever pid it names (a pid is reused, or
 * names a process on another host or in another container), and whatever it holds (a crash between
 * creating the file and writing it leaves it empty).
 */
const LOCK_STALE_MS = 30_000;

/**
 * An exclusive lock between processes for one read-modify-write of the store: a lock file created with
 * O_EXCL holding the owner's pid, host, a random token and the time. A lock is taken over when its owner
 * died (same host, pid gone) or when it is older than `staleMs` (see LOCK_STALE_MS), readable or not; a
 * younger one is waited for, up to `timeoutMs`, then refused with a clear error.
 *
 * The takeover renames the stale file aside and checks that what it moved is the file it judged (same
 * inode): two processes judging the same stale lock cannot both win, and one that moved a lock just taken
 * by another puts it back.
 */
export async function withLock<T>(
  dir: string,
  action: () => T,
  timeoutMs = 10_000,
  staleMs = LOCK_STALE_MS,
): Promise<T> {
  mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, 'LOCK');
  const token = randomBytes(8).toString('hex');
  const deadline = Date.now() + timeoutMs;
  let owner = '';
  for (let attempt = 0; ; attempt++) {
    try {
      const me: LockOwner = { pid: process.pid, host: hostname(), token, at: Date.now() };
      writeFileSync(lock, JSON.stringify(me), { flag: 'wx', mode: 0o600 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let stat: Stats;
      try {
        stat = statSync(lock);
        owner = readFileSync(lock, 'utf8').trim();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
        throw e;
      }
      const parsed = parseOwner(owner);
      const dead = parsed?.host === hostname() && Number(parsed.pid) > 0 && !alive(Number(parsed.pid));
      if (dead || Date.now() - stat.mtimeMs > staleMs) {
        takeOver(lock, stat, token);
        continue;
      }
      if (Date.now() > deadline)
        throw new ConflictError(
          `the tracking store ${dir} is locked by ${owner || 'another process'} for over ${timeoutMs} ms; a lock older than ${staleMs} ms is taken over, or delete ${lock} if its owner is gone`,
          { retriable: true, context: { dir, owner } },
        );
      await sleep(Math.min(5 * 2 ** attempt, 100));
    }
  }
  try {
    return action();
  } finally {
    release(lock, token);
  }
}

/** Removes the lock if it is still ours: one taken over from us (we ran past staleMs) belongs to someone else now. */
function release(lock: string, token: string): void {
  let text: string;
  try {
    text = readFileSync(lock, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (parseOwner(text)?.token === token) rmSync(lock, { force: true });
}

function takeOver(lock: string, judged: Stats, token: string): void {
  const aside = `${lock}.${token}.stale`;
  try {
    renameSync(lock, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else took it over first
    throw err;
  }
  if (statSync(aside).ino !== judged.ino) {
    // We moved a lock taken just now by another process: put it back, unless a third took the name meanwhile.
    try {
      linkSync(aside, lock);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  rmSync(aside, { force: true });
}
