import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/services/mlflow.sh');

/**
 * Starts a real MLflow tracking server for the suites (scripts/services/mlflow.sh; the first run
 * installs mlflow from PyPI into .venv/mlflow). MLFLOW_TRACKING_URI points the suites at a running
 * server instead. With CI=true a server that cannot be started fails the run.
 */
export async function startMlflow(): Promise<{ uri?: string; error?: string; stop?: () => Promise<void> }> {
  if (process.env.MLFLOW_TRACKING_URI) return { uri: process.env.MLFLOW_TRACKING_URI };
  const port = process.env.TEST_MLFLOW_PORT ?? String(Number(process.env.TEST_KAFKA_PORT ?? 19092) + 100);
  const env = { ...process.env, MLFLOW_PORT: port, MLFLOW_FRESH: '1' };
  const started = Date.now();
  try {
    const { stdout } = await run('bash', [SCRIPT, 'start'], { env, timeout: 900_000 });
    process.stdout.write(`[services] ${stdout.trim()} in ${Date.now() - started} ms\n`);
    return {
      uri: `http://127.0.0.1:${port}`,
      stop: async () => {
        await run('bash', [SCRIPT, 'stop'], { env });
      },
    };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const error = `the test MLflow server could not be started: ${e.stderr?.trim() || e.message}`;
    if (process.env.CI === 'true') throw new Error(error);
    process.stdout.write(`[services] ${error}\n`);
    return { error };
  }
}
