import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startScriptService } from './script-service.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const port = () => process.env.TEST_MLFLOW_PORT ?? String(Number(process.env.TEST_KAFKA_PORT ?? 19092) + 100);
/** Where a start that failed leaves its reason, for the suites waiting on the server to read. */
const errorFile = () => path.join(ROOT, '.data', `mlflow-${port()}.start-error`);

/**
 * Starts a real MLflow tracking server for the suites (scripts/services/mlflow.sh; the first run
 * installs mlflow from PyPI into a venv kept per user). MLFLOW_TRACKING_URI points the suites at a running
 * server instead. With CI=true a server that cannot be started fails the run.
 */
export async function startMlflow(): Promise<{ uri?: string; error?: string; stop?: () => Promise<void> }> {
  if (process.env.MLFLOW_TRACKING_URI) return { uri: process.env.MLFLOW_TRACKING_URI };
  const env = { ...process.env, MLFLOW_PORT: port(), MLFLOW_FRESH: '1' };
  rmSync(errorFile(), { force: true });
  const started = await startScriptService('mlflow.sh', 'the test MLflow server', env, 900_000).catch((err: Error) => ({
    error: err.message,
    stop: undefined,
  }));
  if (started.error) {
    mkdirSync(path.dirname(errorFile()), { recursive: true });
    writeFileSync(errorFile(), started.error);
  }
  return started.error ? started : { ...started, uri: mlflowUri() };
}

/** The URI the test MLflow server has (or will have once started). */
export function mlflowUri(): string {
  return process.env.MLFLOW_TRACKING_URI ?? `http://127.0.0.1:${port()}`;
}

/** Why the set-up could not start the server, or undefined (not failed, or not yet). */
export function mlflowStartError(): string | undefined {
  try {
    return readFileSync(errorFile(), 'utf8');
  } catch {
    return undefined;
  }
}
