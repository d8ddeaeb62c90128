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
import { pathToFileURL } from 'node:url';
import { InvalidOptionError } from '../errors.ts';
import { createLogger } from '../log/logger.ts';
import { redactText } from '../log/redact.ts';
import { createTrackingBackend, trackingSecrets } from '../tracking/index.ts';
import { directoryModelSource, registryModelSource } from './model-source.ts';
import { startServing } from './server.ts';

export async function serveFromEnv(env: NodeJS.ProcessEnv = process.env) {
  const name = env.MODEL_NAME;
  // Plain decimal only: Number() would read "0x2" or "2e0" as version 2 and serve a version nobody named.
  const version = /^[1-9][0-9]*$/.test(env.MODEL_VERSION ?? '') ? Number(env.MODEL_VERSION) : Number.NaN;
  if (!name || !Number.isSafeInteger(version))
    throw new InvalidOptionError(
      `set MODEL_NAME and MODEL_VERSION (--model, --version; a positive decimal integer, got "${env.MODEL_VERSION ?? ''}") for the serving process`,
    );
  const port = env.SERVING_PORT === undefined ? 8080 : Number(env.SERVING_PORT);
  if (env.SERVING_PORT !== undefined && (!/^[0-9]+$/.test(env.SERVING_PORT) || port > 65_535))
    throw new InvalidOptionError(
      `SERVING_PORT (--port) is "${env.SERVING_PORT}"; it must be a port number from 0 to 65535`,
    );
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
    port,
    apiKey: env.SERVING_API_KEY || undefined,
    logger: createLogger({ name: 'serving', destination: process.stderr as never }),
  });
  return server;
}

// Run as the entry (the image, the local target's child), not when the CLI's `serve` imports it.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Handlers go on before the model loads: as a container's PID 1, node gets no default action for
  // SIGTERM, so an unhandled one would be ignored and `podman stop` would wait its timeout, then SIGKILL.
  let server: Awaited<ReturnType<typeof serveFromEnv>> | undefined;
  const stop = (signal: NodeJS.Signals) => {
    if (!server) process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  serveFromEnv().then(
    (s) => {
      server = s;
      process.stdout.write(`${JSON.stringify({ ready: true, url: s.url, digest: s.model.digest })}\n`);
    },
    (err) => {
      // The deployer relays this line into its log: no URI's userinfo, no secret of our environment.
      const error = redactText(String(err?.message ?? err), trackingSecrets());
      process.stderr.write(`${JSON.stringify({ ready: false, error })}\n`);
      process.exit(1);
    },
  );
}
