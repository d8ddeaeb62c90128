import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/services/image.sh');

/**
 * Builds the serving image with scripts/services/image.sh for test/serving/image.test.ts, while the
 * other suites run. `SERVING_IMAGE` names an image built already instead. With CI=true a
 * build that fails (podman cannot be installed or run) fails the run; otherwise the suite skips with `error`.
 * Measured on 2 busy cores (load 7–17): 8–17 s when neither the sources nor the base changed (the build
 * is skipped), 30–45 s after a change to the sources, 2.5 min cold (mmdebstrap base 41 s, npm ci
 * --omit=dev 23 s, podman build) plus 10–20 s for apt-get install podman.
 */
export async function buildServingImage(): Promise<{ image?: string; error?: string }> {
  if (process.env.SERVING_IMAGE) return { image: process.env.SERVING_IMAGE };
  const started = Date.now();
  try {
    const { stdout } = await run('bash', [SCRIPT, 'build'], { timeout: 900_000, maxBuffer: 16 * 1024 * 1024 });
    const image = /^built (\S+)/m.exec(stdout)?.[1];
    if (!image) throw new Error(`image.sh build printed no image name: ${stdout.trim()}`);
    process.stdout.write(`[services] ${stdout.trim()} (${Date.now() - started} ms in the set-up)\n`);
    return { image };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const error = `the serving image could not be built: ${e.stderr?.trim() || e.message}`;
    if (process.env.CI === 'true') throw new Error(error);
    process.stdout.write(`[services] ${error}\n`);
    return { error };
  }
}

/** The serving image for a suite, built while the suite is collected; with CI=true a failed build fails it. */
export async function servingImageForSuite(): Promise<{ image: string | undefined; reason: string }> {
  const built = await buildServingImage();
  if (!built.image && process.env.CI === 'true') throw new Error(`CI=true and ${built.error ?? 'no image was built'}`);
  return { image: built.image, reason: built.error ?? 'not built' };
}
