import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
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

/**
 * An exclusive lock between processes for one read-modify-write of the store:
 * a lock file created with O_EXCL holding the owner's pid and host. A lock
 * whose owner died (same host, pid gone) is taken over; one held by a live
 * process is waited for, up to `timeoutMs`, then refused with a clear error.
 */
export async function withLock<T>(dir: string, action: () => T, timeoutMs = 10_000): Promise<T> {
  mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, 'LOCK');
  const me = `${process.pid}@${hostname()}`;
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(lock, me, { flag: 'wx', mode: 0o600 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = readFileSync(lock, 'utf8').trim();
      const [pid, host] = owner.split('@');
      if (host === hostname() && Number(pid) > 0 && !alive(Number(pid))) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline)
        throw new ConflictError(
          `the tracking store ${dir} is locked by ${owner || 'another process'} for over ${timeoutMs} ms; if that process is gone, delete ${lock}`,
          { retriable: true, context: { dir, owner } },
        );
      await sleep(Math.min(5 * 2 ** attempt, 100));
    }
  }
  try {
    return action();
  } finally {
    rmSync(lock, { force: true });
  }
}
