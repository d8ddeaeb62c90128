/**
 * The serving image's entry: one generic process, the model version comes from
 * the environment at start (never a new image per model).
 *
 *   MODEL_NAME, MODEL_VERSION   the registered model and version to serve
 *   MODEL_DIR                   directory source (`<dir>/<name>/<version>/model.json` + digest), or
 *   MLFLOW_TRACKING_URI         or an MLflow registry, or
 *   TRACKING_DIR                the embedded registry (docs/tracking.md): the version's artifact, digest-checked
 *   SERVING_HOST                @defaultValue 127.0.0.1 (0.0.0.0 in the image; needs SERVING_API_KEY)
 *   SERVING_PORT                @defaultValue 8080
 *   SERVING_API_KEY             required beyond loopback
 *
 * Prints one JSON line `{"ready":true,"url":...}` on stdout when the model is
 * loaded and the socket listens; the local deploy target reads it.
 */
import { InvalidOptionError } from '../errors.ts';
import { createLogger } from '../log/logger.ts';
import { redactText } from '../log/redact.ts';
import { createTrackingBackend, trackingSecrets } from '../tracking/index.ts';
import { directoryModelSource, registryModelSource } from './model-source.ts';
import { startServing } from './server.ts';

export async function serveFromEnv(env: NodeJS.ProcessEnv = process.env) {
  const name = env.MODEL_NAME;
  const version = Number(env.MODEL_VERSION);
  if (!name || !Number.isInteger(version) || version < 1)
    throw new InvalidOptionError('set MODEL_NAME and MODEL_VERSION (a positive integer) for the serving process');
  if (!env.MODEL_DIR && !env.TRACKING_DIR && !env.MLFLOW_TRACKING_URI)
    throw new InvalidOptionError(
      'set MODEL_DIR (an artifact directory), MLFLOW_TRACKING_URI or TRACKING_DIR (the registry) for the serving process',
    );
  const source = env.MODEL_DIR
    ? directoryModelSource(env.MODEL_DIR)
    : registryModelSource(createTrackingBackend({ env }).registry);
  const server = await startServing({
    source,
    model: { name, version },
    host: env.SERVING_HOST ?? '127.0.0.1',
    port: env.SERVING_PORT === undefined ? 8080 : Number(env.SERVING_PORT),
    apiKey: env.SERVING_API_KEY || undefined,
    logger: createLogger({ name: 'serving', destination: process.stderr as never }),
  });
  return server;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  serveFromEnv().then(
    (s) => {
      process.stdout.write(`${JSON.stringify({ ready: true, url: s.url, digest: s.model.digest })}\n`);
      const stop = () => void s.close().then(() => process.exit(0));
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    },
    (err) => {
      // The deployer relays this line into its log: no URI's userinfo, no secret of our environment.
      const error = redactText(String(err?.message ?? err), trackingSecrets());
      process.stderr.write(`${JSON.stringify({ ready: false, error })}\n`);
      process.exit(1);
    },
  );
}
