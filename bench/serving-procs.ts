/**
 * bench:serving's processes: our serving process (src/serving/main.ts) and
 * `mlflow models serve`, each started as a child of its own so that both
 * sides are measured the same way (the load generator in this process, the
 * server in another). Every child is stopped by its own process group id.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { PACKAGE_ROOT } from '../src/runtime.ts';

export interface Served {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const MLFLOW_SH = path.join(PACKAGE_ROOT, 'scripts/services/mlflow.sh');
const REQUIREMENTS = path.join(PACKAGE_ROOT, 'bench/serving-requirements.txt');

/**
 * The project's MLflow venv (made by scripts/services/mlflow.sh, MLFLOW_VENV
 * honoured) with the bench's scikit-learn pin installed into it.
 */
export function mlflowVenv(): string {
  const venv = execFileSync(MLFLOW_SH, ['venv'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  execFileSync(path.join(venv, 'bin/pip'), ['install', '-q', '--disable-pip-version-check', '-r', REQUIREMENTS], {
    stdio: 'inherit',
  });
  return venv;
}

/** Runs bench/serving-sklearn.py on `work` (spec.json and the row files); returns its JSON lines. */
export function trainSklearn(venv: string, work: string): Record<string, unknown>[] {
  const out = execFileSync(path.join(venv, 'bin/python'), [path.join(PACKAGE_ROOT, 'bench/serving-sklearn.py'), work], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    // MLflow leaves an mlruns/ in its working directory: the bench's temporary one, not the checkout.
    cwd: work,
    env: { ...process.env, MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true' },
  });
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // The child leads its own group (detached): uvicorn's worker goes with it.
    const signal = (s: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, s);
      } catch {
        // already gone
      }
    };
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
}

/** Polls `url` until it answers 200, the child exits, or `timeoutMs` passes. */
async function waitUp(url: string, child: ChildProcess, log: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}) before ${url} answered:\n${log()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms:\n${log()}`);
}

function collect(child: ChildProcess): () => string {
  let text = '';
  const keep = (b: Buffer) => {
    text = (text + b.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => text;
}

/** `mlflow models serve -m <dir> -p <port> -w 1 --env-manager local`, once /ping answers. */
export async function serveMlflow(venv: string, modelDir: string, port: number): Promise<Served> {
  const bin = path.join(venv, 'bin');
  const child = spawn(
    path.join(bin, 'mlflow'),
    ['models', 'serve', '-m', modelDir, '-h', '127.0.0.1', '-p', String(port), '-w', '1', '--env-manager', 'local'],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        PATH: `${bin}:${process.env.PATH}`,
        MLFLOW_DISABLE_TELEMETRY: 'true',
        DO_NOT_TRACK: 'true',
      },
    },
  );
  const log = collect(child);
  const stop = stopper(child);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUp(`${url}/ping`, child, log, 120_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, pid: child.pid!, stop };
}

/** Our serving process on `port`, serving `<modelDir>/<name>/<version>`, once it prints its ready line. */
export async function serveOurs(modelDir: string, name: string, version: number, port: number): Promise<Served> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(PACKAGE_ROOT, 'src/serving/main.ts')], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      MODEL_DIR: modelDir,
      MODEL_NAME: name,
      MODEL_VERSION: String(version),
      SERVING_PORT: String(port),
      LOG_LEVEL: 'warn',
    },
  });
  const log = collect(child);
  const stop = stopper(child);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUp(`${url}/readyz`, child, log, 120_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, pid: child.pid!, stop };
}
