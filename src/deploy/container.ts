import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DeploymentError, InvalidOptionError } from '../errors.ts';
import { type Logger, silentLogger } from '../log/logger.ts';
import { redactText } from '../log/redact.ts';
import { PACKAGE_ROOT } from '../runtime.ts';
import type { ModelRef } from '../serving/model-source.ts';
import { trackingSecrets } from '../tracking/index.ts';
import type { Registry } from '../tracking/types.ts';
import { type Deployment, type DeployTarget, waitReady } from './types.ts';

const run = promisify(execFile);

export interface ContainerTargetOptions {
  /** Artifact directory versions are exported from (`<dir>/<name>/<version>/model.json` + `digest`, copied as they are). */
  modelDir?: string;
  /** Or the registry they are read from (embedded or MLflow; the artifact is digest-checked on the way out). */
  registry?: Pick<Registry, 'getVersion' | 'readVersionArtifact'>;
  /** The serving image. @defaultValue `localhost/activity-tracking-serving:<package version>`, what `image.sh build` builds */
  image?: string;
  /** @defaultValue image.sh's choice: docker when its engine answers, else podman (state in .data/podman) */
  engine?: 'podman' | 'docker';
  /**
   * Host ports, inclusive, a container's 8080 is published on (127.0.0.1 only); below Linux's ephemeral
   * range (32768–60999), where no outgoing connection can be holding one. @defaultValue [28100, 28119]
   */
  ports?: readonly [number, number];
  /** From `podman run` to `/readyz` answering 200. @defaultValue 60000 */
  readyTimeoutMs?: number;
  /** SIGTERM grace before the engine kills a container (whole seconds). @defaultValue 10000 */
  stopTimeoutMs?: number;
  /** The `x-api-key` the containers require (they bind 0.0.0.0 inside; ≥ 16 characters). @defaultValue 24 random bytes, new per target */
  apiKey?: string;
  /** Container names are `<prefix>-<model>-v<version>-<port>`. @defaultValue 'activity-deploy' */
  namePrefix?: string;
  /** Folder of the per-version exports mounted on /models. @defaultValue a new folder in the OS temp dir, removed by close() */
  stagingDir?: string;
  /** @defaultValue scripts/services/image.sh of this package */
  script?: string;
  logger?: Logger;
}

/**
 * Options from the environment (docs/deployment.md): image.sh's own `IMAGE` and `IMAGE_ENGINE`, so that the deployer
 * runs what `image.sh build` built; `DEPLOY_PORTS` (`<from>-<to>`); `SERVING_API_KEY` (generated when unset).
 */
export function containerOptionsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): Omit<ContainerTargetOptions, 'modelDir' | 'registry' | 'logger'> {
  const o: Omit<ContainerTargetOptions, 'modelDir' | 'registry' | 'logger'> = {};
  if (env.IMAGE) o.image = env.IMAGE;
  if (env.IMAGE_ENGINE) o.engine = env.IMAGE_ENGINE as 'podman' | 'docker';
  if (env.SERVING_API_KEY) o.apiKey = env.SERVING_API_KEY;
  if (env.DEPLOY_PORTS) {
    const m = /^(\d+)-(\d+)$/.exec(env.DEPLOY_PORTS);
    if (!m) throw new InvalidOptionError(`DEPLOY_PORTS is "${env.DEPLOY_PORTS}"; write <from>-<to>, e.g. 28100-28119`);
    o.ports = [Number(m[1]), Number(m[2])];
  }
  return o;
}

type Resolved = Required<Omit<ContainerTargetOptions, 'modelDir' | 'registry' | 'engine' | 'stagingDir' | 'logger'>> &
  Pick<ContainerTargetOptions, 'modelDir' | 'registry' | 'engine' | 'stagingDir'>;

interface Instance {
  name: string;
  port: number;
  /** The export mounted on /models. */
  dir: string;
}

/**
 * Runs each version as a container of the serving image on this machine — the image ACI would pull — through
 * scripts/services/image.sh (`run`, `stop`, `env`), so engine choice, podman's state and its quirks live in one
 * place. The version's artifact is exported into a folder of its own, mounted read-only on /models; the container
 * is published on a loopback port of `ports` and takes traffic only after its `/readyz` answers, then the previous
 * container is stopped. One that fails is removed and the previous one keeps serving.
 *
 * The key goes to image.sh in its environment and from there to the engine by name (`-e SERVING_API_KEY`): never
 * on a command line, never in a Deployment (those are logged and published).
 */
export class ContainerTarget implements DeployTarget {
  readonly kind = 'container';
  readonly #o: Resolved;
  readonly #log: Logger;
  readonly #started = new Map<string, Instance>();
  #current: (Deployment & { instance: Instance }) | null = null;
  #engineEnv: Promise<Record<string, string>> | undefined;
  #staging: Promise<string> | undefined;
  #cursor = 0;
  #closed = false;

  constructor(options: ContainerTargetOptions) {
    if ([options.modelDir, options.registry].filter(Boolean).length !== 1)
      throw new InvalidOptionError('ContainerTarget needs one of modelDir (artifact directory) or registry');
    const o: Resolved = {
      image: options.image ?? defaultImage(),
      ports: [28100, 28119],
      readyTimeoutMs: 60_000,
      stopTimeoutMs: 10_000,
      apiKey: options.apiKey ?? randomBytes(24).toString('base64url'),
      namePrefix: 'activity-deploy',
      script: path.join(PACKAGE_ROOT, 'scripts/services/image.sh'),
      ...stripUndefined(options),
    };
    const [from, to] = o.ports;
    if (![from, to].every((p) => Number.isInteger(p) && p >= 1 && p <= 65_535) || from > to)
      throw new InvalidOptionError(`ports must be two port numbers, low to high (got ${from}–${to})`);
    if (o.engine !== undefined && o.engine !== 'podman' && o.engine !== 'docker')
      throw new InvalidOptionError(
        `engine (env IMAGE_ENGINE) is "${o.engine}"; choose podman or docker, or leave it to image.sh`,
      );
    if (!(Number.isInteger(o.readyTimeoutMs) && o.readyTimeoutMs > 0))
      throw new InvalidOptionError('readyTimeoutMs must be a positive integer');
    if (!(Number.isInteger(o.stopTimeoutMs) && o.stopTimeoutMs >= 0))
      throw new InvalidOptionError('stopTimeoutMs must be a non-negative integer');
    if (o.apiKey.length < 16)
      throw new InvalidOptionError('the serving API key must be at least 16 characters (the server refuses less)');
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(o.namePrefix))
      throw new InvalidOptionError(`namePrefix "${o.namePrefix}" must be letters, digits, '_', '.' or '-'`);
    if (!o.image) throw new InvalidOptionError('image must name the serving image');
    if (!existsSync(o.script))
      throw new InvalidOptionError(
        `ContainerTarget runs ${o.script}, which is not there: run it from a checkout of the repository, or set script`,
      );
    this.#o = o;
    this.#log = (options.logger ?? silentLogger).child({ component: 'deploy-container' });
  }

  /** The key callers send as `x-api-key` (not part of a Deployment: those are logged and published). */
  get apiKey(): string {
    return this.#o.apiKey;
  }

  current(): Deployment | null {
    if (!this.#current) return null;
    const { model, endpoint, id } = this.#current;
    return { model: { ...model }, endpoint, id };
  }

  async deploy(model: ModelRef): Promise<Deployment> {
    const started = Date.now();
    let instance: Instance | undefined;
    let stderr = '';
    try {
      if (this.#closed) throw new DeploymentError('the container target is closed');
      if (!/^[A-Za-z0-9._-]+$/.test(model.name) || model.name.startsWith('.'))
        throw new DeploymentError(`model name "${model.name}" must be letters, digits, '.', '_' or '-'`);
      const port = await this.#nextPort();
      const name = `${this.#o.namePrefix}-${model.name}-v${model.version}-${port}`;
      instance = { name, port, dir: path.join(await this.#stagingRoot(), name) };
      this.#started.set(name, instance);
      await this.#export(model, instance.dir);
      const remaining = () => Math.max(1, this.#o.readyTimeoutMs - (Date.now() - started));
      try {
        await this.#script('run', remaining() + 60_000, {
          IMAGE_PORT: String(port),
          IMAGE_CONTAINER: name,
          IMAGE_MODEL_DIR: instance.dir,
          IMAGE_READY_TIMEOUT: String(Math.ceil(remaining() / 1000)),
          MODEL_NAME: model.name,
          MODEL_VERSION: String(model.version),
          SERVING_API_KEY: this.#o.apiKey,
        });
      } catch (err) {
        // Not kept as the cause: execFile's error carries the whole output, and a logger would print all of it.
        stderr = this.#redact((err as { stderr?: string }).stderr ?? '');
        throw new DeploymentError(`container ${name} did not start: ${this.#redact(startFailure(stderr, err))}`);
      }
      const endpoint = `http://127.0.0.1:${port}`;
      if (!(await waitReady(endpoint, remaining())))
        throw new DeploymentError(`container ${name} did not become ready at ${endpoint}`);
      const previous = this.#current;
      this.#current = { model: { ...model }, endpoint, id: name, instance };
      this.#log.info({ model, endpoint, container: name, ms: Date.now() - started }, 'switched');
      if (previous) await this.#remove(previous.instance);
      return this.current()!;
    } catch (err) {
      if (instance) await this.#remove(instance);
      const rolledBack = this.#current !== null;
      this.#log.warn({ err, model, stderr: stderr.slice(-500) }, 'deploy failed');
      throw new DeploymentError(
        `deploying ${model.name} v${model.version} to a container failed: ${(err as Error).message}`,
        {
          cause: err,
          context: { model, rolledBack, keptVersion: this.#current?.model.version ?? null },
        },
      );
    }
  }

  /** Stops every container this target started (the serving one too: they live on this machine). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#current = null;
    await Promise.all([...this.#started.values()].map((i) => this.#remove(i)));
    if (this.#staging && !this.#o.stagingDir) await rm(await this.#staging, { recursive: true, force: true });
  }

  /** The next port of the range, round robin, that no container of ours holds and nothing else listens on. */
  async #nextPort(): Promise<number> {
    const [from, to] = this.#o.ports;
    const size = to - from + 1;
    const ours = new Set([...this.#started.values()].map((i) => i.port));
    for (let i = 0; i < size; i++) {
      const port = from + ((this.#cursor + i) % size);
      if (ours.has(port) || !(await portFree(port))) continue;
      this.#cursor = (port - from + 1) % size;
      return port;
    }
    throw new DeploymentError(`no free port in ${from}–${to} (option ports)`);
  }

  #stagingRoot(): Promise<string> {
    this.#staging ??= this.#o.stagingDir
      ? mkdir(this.#o.stagingDir, { recursive: true }).then(() => path.resolve(this.#o.stagingDir!))
      : mkdtemp(path.join(tmpdir(), 'activity-deploy-'));
    return this.#staging;
  }

  /** The version in the layout src/serving reads (`<dir>/<name>/<version>/model.json` + digest), readable by uid 1000. */
  async #export(model: ModelRef, dir: string): Promise<void> {
    const folder = path.join(dir, model.name, String(model.version));
    await rm(dir, { recursive: true, force: true });
    await mkdir(folder, { recursive: true });
    const files = [path.join(folder, 'model.json'), path.join(folder, 'digest')];
    if (this.#o.modelDir) {
      const source = path.join(this.#o.modelDir, model.name, String(model.version));
      try {
        for (const f of files) await copyFile(path.join(source, path.basename(f)), f);
      } catch (cause) {
        throw new DeploymentError(`model ${model.name} v${model.version} is not complete in ${this.#o.modelDir}`, {
          cause,
        });
      }
    } else {
      const registry = this.#o.registry!;
      const version = await registry.getVersion(model.name, model.version);
      await writeFile(files[0], await registry.readVersionArtifact(version));
      await writeFile(files[1], `${version.artifactDigest}\n`);
    }
    for (const d of [dir, path.dirname(folder), folder]) await chmod(d, 0o755);
    for (const f of files) await chmod(f, 0o644);
  }

  async #remove(instance: Instance): Promise<void> {
    if (this.#current?.instance === instance) this.#current = null;
    try {
      const { stdout } = await this.#script('stop', this.#o.stopTimeoutMs + 60_000, {
        IMAGE_CONTAINER: instance.name,
        IMAGE_STOP_TIMEOUT: String(Math.ceil(this.#o.stopTimeoutMs / 1000)),
      });
      this.#log.debug({ container: instance.name, result: stdout.trim() }, 'container stopped');
    } catch (err) {
      // A container left behind holds a port and memory but serves nothing new; report it, do not fail the deploy.
      const e = err as { stderr?: string; message: string };
      this.#log.error(
        { container: instance.name, stderr: this.#redact(e.stderr || e.message) },
        'container not removed',
      );
    }
    this.#started.delete(instance.name);
    await rm(instance.dir, { recursive: true, force: true });
  }

  /** image.sh with the engine resolved once (`image.sh env`), the image, and `env`. */
  async #script(command: 'run' | 'stop', timeoutMs: number, env: Record<string, string>) {
    this.#engineEnv ??= this.#resolveEngine();
    return run('bash', [this.#o.script, command], {
      env: { ...process.env, ...(await this.#engineEnv), IMAGE: this.#o.image, ...env },
      timeout: timeoutMs,
      maxBuffer: 4 * 1024 * 1024,
    });
  }

  async #resolveEngine(): Promise<Record<string, string>> {
    const env = { ...process.env, ...(this.#o.engine ? { IMAGE_ENGINE: this.#o.engine } : {}) };
    const { stdout } = await run('bash', [this.#o.script, 'env'], { env, timeout: 60_000 });
    const vars = Object.fromEntries([...stdout.matchAll(/([A-Z_]+)='([^']*)'/g)].map((m) => [m[1], m[2]]));
    if (vars.IMAGE_ENGINE !== 'podman' && vars.IMAGE_ENGINE !== 'docker')
      throw new DeploymentError(`image.sh env named no engine: ${stdout.trim()}`);
    this.#log.info({ engine: vars.IMAGE_ENGINE, image: this.#o.image }, 'container engine');
    return vars;
  }

  #redact(text: string): string {
    return redactText(text, [this.#o.apiKey, ...trackingSecrets()]);
  }
}

/** `localhost/activity-tracking-serving:<version in package.json>`, the tag image.sh builds. */
function defaultImage(): string {
  const { version } = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
  return `localhost/activity-tracking-serving:${version}`;
}

/** Why `image.sh run` failed: the server's own `{"ready":false,"error":…}` line when it printed one. */
function startFailure(stderr: string, err: unknown): string {
  for (const line of stderr.split('\n').reverse()) {
    try {
      const m = JSON.parse(line) as { ready?: boolean; error?: string };
      if (m.ready === false && m.error) return m.error;
    } catch {
      // podman's or the script's own line
    }
  }
  const said = stderr
    .split('\n')
    .filter((l) => l.startsWith('image.sh:'))
    .pop();
  return said ?? (err as Error).message;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
