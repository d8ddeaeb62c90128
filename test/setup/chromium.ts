import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';

const run = promisify(execFile);
const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/services/chromium.sh');

/**
 * The path of a headless Chromium, installing Debian's package when absent
 * (scripts/services/chromium.sh). A suite that needs it fails, never skips,
 * when it cannot be had.
 */
export async function requireChromium(): Promise<string> {
  try {
    const { stdout } = await run('bash', [SCRIPT, 'install'], { timeout: 600_000 });
    return stdout.trim().split('\n').pop()!;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`this suite needs headless Chromium and none could be had: ${e.stderr?.trim() || e.message}`);
  }
}

/** A headless Chromium for the suite that calls it: launched before its tests, closed after them. */
export function useChromium(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: await requireChromium(), args: ['--no-sandbox'] });
  }, 600_000);
  afterAll(async () => {
    await browser?.close();
  });
  return () => browser!;
}
