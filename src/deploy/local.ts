import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DeploymentError, InvalidOptionError } from '../errors.ts';
import { type Logger, silentLogger } from '../log/logger.ts';
import { redactText } from '../log/redact.ts';
import { FROM_SOURCES, tsxEntry } from '../runtime.ts';
import type { ModelRef } from '../serving/model-source.ts';
import { trackingSecrets } from '../tracking/index.ts';
import { type Deployment, type DeployTarget, waitReady } from './types.ts';

export interface LocalTargetOptions {
  /** Artifact directory the serving processes read (MODEL_DIR). */
  modelDir?: string;
  /** Or the registry they read versions from: the embedded store's folder (TRACKING_DIR) or MLflow (MLFLOW_TRACKING_URI). */
  trackingDir?: string;
  trackingUri?: string;
  /** @defaultValue 15000 */
  readyTimeoutMs?: number;
  /** Extra environment for the serving processes. */
  env?: Record<string, string>;
  logger?: Logger;
}

/**
 * The serving process's node arguments: the compiled entry with plain node, or from the sources the
 * .ts entry behind tsx's loader, resolved from this package so that any working directory will do.
 */
const SERVING_ARGS = FROM_SOURCES
  ? ['--import', tsxEntry('.'), fileURLToPath(new URL('../serving/main.ts', import.meta.url))]
  : [fileURLToPath(new URL('../serving/main.js', import.meta.url))];

/**
 * Runs each version as its own serving child process (`node dist/src/serving/main.js`)
 * on an OS-chosen loopback port. A new version takes traffic only after its
 * `/readyz` answers; the old process is stopped after the switch.
 */
export class LocalTarget implements DeployTarget {
  readonly kind = 'local';
  readonly #options: Required<Omit<LocalTargetOptions, 'logger' | 'env' | 'modelDir' | 'trackingDir' | 'trackingUri'>> &
    Pick<LocalTargetOptions, 'modelDir' | 'trackingDir' | 'trackingUri'> & { env: Record<string, string> };
  readonly #log: Logger;
  #current: (Deployment & { child: ChildProcess }) | null = null;

  constructor(options: LocalTargetOptions) {
    if ([options.modelDir, options.trackingDir, options.trackingUri].filter(Boolean).length !== 1)
      throw new InvalidOptionError(
        'LocalTarget needs one of modelDir (artifact directory), trackingDir (embedded registry) or trackingUri (MLflow)',
      );
    this.#options = { readyTimeoutMs: 15_000, env: {}, ...options };
    this.#log = (options.logger ?? silentLogger).child({ component: 'deploy-local' });
  }

  current(): Deployment | null {
    if (!this.#current) return null;
    const { model, endpoint, id } = this.#current;
    return { model, endpoint, id };
  }

  async deploy(model: ModelRef): Promise<Deployment> {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...this.#options.env,
      MODEL_NAME: model.name,
      MODEL_VERSION: String(model.version),
      // Exactly one model source reaches the serving process, whatever this process's environment holds.
      MODEL_DIR: this.#options.modelDir ?? '',
      MLFLOW_TRACKING_URI: this.#options.trackingUri ?? '',
      TRACKING_DIR: this.#options.trackingDir ?? '',
      SERVING_HOST: '127.0.0.1',
      SERVING_PORT: '0',
    };
    const child = spawn(process.execPath, SERVING_ARGS, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString()).slice(-4000);
    });
    // The child's output is text, not a record pino could redact by field: every secret the child was
    // given is taken out before it reaches our log, whatever the child (or a library in it) printed.
    const secrets = trackingSecrets(env);
    try {
      const endpoint = await this.#readUrl(child);
      if (!(await waitReady(endpoint, this.#options.readyTimeoutMs)))
        throw new DeploymentError(`model ${model.name} v${model.version} did not become ready at ${endpoint}`);
      const previous = this.#current;
      this.#current = { model, endpoint, id: String(child.pid), child };
      this.#log.info({ model, endpoint }, 'switched');
      if (previous) await stop(previous.child);
      return this.current()!;
    } catch (err) {
      await stop(child);
      const rolledBack = this.#current !== null;
      this.#log.warn({ err, model, stderr: redactText(stderr, secrets).slice(-500) }, 'deploy failed');
      throw new DeploymentError(`deploying ${model.name} v${model.version} failed: ${(err as Error).message}`, {
        cause: err,
        context: { model, rolledBack, keptVersion: this.#current?.model.version ?? null },
      });
    }
  }

  #readUrl(child: ChildProcess): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new DeploymentError('serving process did not start in time')),
        this.#options.readyTimeoutMs,
      );
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        try {
          const m = JSON.parse(line) as { ready?: boolean; url?: string };
          if (m.ready && m.url) {
            clearTimeout(timer);
            resolve(m.url);
          }
        } catch {
          // not our line
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new DeploymentError(`serving process exited with code ${code} before it was ready`));
      });
    });
  }

  async close(): Promise<void> {
    const c = this.#current;
    this.#current = null;
    if (c) await stop(c.child);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
