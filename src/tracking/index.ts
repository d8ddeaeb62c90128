import path from 'node:path';
import { urlPassword } from '../log/redact.ts';
import { EmbeddedTrackingStore } from './embedded/store.ts';
import { MlflowTrackingStore } from './mlflow/store.ts';
import type { TrackingBackend } from './types.ts';

export { EmbeddedTrackingStore } from './embedded/store.ts';
export { MlflowTrackingStore } from './mlflow/store.ts';
export * from './types.ts';

/** The environment variables of the tracking backend (docs/configuration.md). */
export const TRACKING_ENV = {
  dir: 'TRACKING_DIR',
  mlflowUri: 'MLFLOW_TRACKING_URI',
  mlflowToken: 'MLFLOW_TRACKING_TOKEN',
  mlflowUsername: 'MLFLOW_TRACKING_USERNAME',
  mlflowPassword: 'MLFLOW_TRACKING_PASSWORD',
} as const;

export interface TrackingBackendOptions {
  /** Folder of the embedded store. @defaultValue $TRACKING_DIR or `.data/tracking` */
  dir?: string;
  /** An MLflow tracking server; when set (or $MLFLOW_TRACKING_URI is), MLflow is the backend. */
  mlflowUri?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * MLflow when a tracking URI is given (option or MLFLOW_TRACKING_URI, with
 * MLFLOW_TRACKING_TOKEN or _USERNAME/_PASSWORD), else the embedded store
 * under `dir` (the default: no server needed).
 */
export function createTrackingBackend(options: TrackingBackendOptions = {}): TrackingBackend {
  const env = options.env ?? process.env;
  const uri = options.mlflowUri ?? env[TRACKING_ENV.mlflowUri];
  if (uri) {
    return new MlflowTrackingStore({
      uri,
      ...(env[TRACKING_ENV.mlflowToken] ? { token: env[TRACKING_ENV.mlflowToken] } : {}),
      ...(env[TRACKING_ENV.mlflowUsername] ? { username: env[TRACKING_ENV.mlflowUsername] } : {}),
      ...(env[TRACKING_ENV.mlflowPassword] ? { password: env[TRACKING_ENV.mlflowPassword] } : {}),
    });
  }
  return new EmbeddedTrackingStore(path.resolve(options.dir ?? env[TRACKING_ENV.dir] ?? '.data/tracking'));
}

/**
 * The secrets a tracking configuration holds (the URI's password, the MLflow
 * password and token), for redacting text that another process printed: such
 * text is not a log record, so pino's field redaction never sees it.
 */
export function trackingSecrets(env: NodeJS.ProcessEnv = process.env, uri = env[TRACKING_ENV.mlflowUri]): string[] {
  return [urlPassword(uri), env[TRACKING_ENV.mlflowPassword], env[TRACKING_ENV.mlflowToken]].filter((s): s is string =>
    Boolean(s),
  );
}
