import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPTS = path.resolve(import.meta.dirname, '../../scripts/services');

/**
 * Starts a service with its script in scripts/services (`<name>.sh start`, and `stop` when the suites
 * end), printing how long it took. With CI=true a service that cannot be started fails the run;
 * otherwise the suites that need it fail with `error` (they never skip).
 */
export async function startScriptService(
  script: string,
  what: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ error?: string; stop?: () => Promise<void> }> {
  const file = path.join(SCRIPTS, script);
  const started = Date.now();
  try {
    const { stdout } = await run('bash', [file, 'start'], { env, timeout: timeoutMs });
    process.stdout.write(`[services] ${stdout.trim()} in ${Date.now() - started} ms\n`);
    return {
      stop: async () => {
        await run('bash', [file, 'stop'], { env });
      },
    };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const error = `${what} could not be started: ${e.stderr?.trim() || e.message}`;
    if (process.env.CI === 'true') throw new Error(error);
    process.stdout.write(`[services] ${error}\n`);
    return { error };
  }
}
