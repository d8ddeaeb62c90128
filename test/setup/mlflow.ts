import { startScriptService } from './script-service.ts';

/**
 * Starts a real MLflow tracking server for the suites (scripts/services/mlflow.sh; the first run
 * installs mlflow from PyPI into .venv/mlflow). MLFLOW_TRACKING_URI points the suites at a running
 * server instead. With CI=true a server that cannot be started fails the run.
 */
export async function startMlflow(): Promise<{ uri?: string; error?: string; stop?: () => Promise<void> }> {
  if (process.env.MLFLOW_TRACKING_URI) return { uri: process.env.MLFLOW_TRACKING_URI };
  const port = process.env.TEST_MLFLOW_PORT ?? String(Number(process.env.TEST_KAFKA_PORT ?? 19092) + 100);
  const env = { ...process.env, MLFLOW_PORT: port, MLFLOW_FRESH: '1' };
  const started = await startScriptService('mlflow.sh', 'the test MLflow server', env, 900_000);
  return started.error ? started : { ...started, uri: `http://127.0.0.1:${port}` };
}
