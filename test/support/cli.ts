import { spawn } from 'node:child_process';
import path from 'node:path';

const BIN = path.resolve(import.meta.dirname, '../../bin/activity-tracking.js');

/**
 * Settings a developer's shell may hold that would change what the CLI does; the tests clear them.
 * KAFKA_BROKERS among them: with it set, the CLI defaults to Kafka (src/cli/transport.ts).
 */
const SHELL_SETTINGS = [
  'TRANSPORT',
  'KAFKA_BROKERS',
  'LOG_LEVEL',
  'MLFLOW_TRACKING_URI',
  'TRACKING_DIR',
  'SERVING_PORT',
  'METRICS_PORT',
  'TOPIC_PREFIX',
];

/** The environment of a CLI a test starts: this one without the shell's settings, with `env` over it. */
export function cliEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const base = { ...process.env };
  for (const name of SHELL_SETTINGS) delete base[name];
  return { ...base, ...env };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `activity-tracking <args>` to its end with extra environment (and nothing inherited that selects
 * a transport, a log level or a registry, so a developer's shell cannot change the outcome). Bounded by
 * `timeoutMs`: a CLI that hangs is killed and the test fails with what it printed.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: cliEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`activity-tracking ${args.join(' ')} ran over ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * `runCli` without a process: `main()` in this process, with the same environment rules, stdout and
 * stderr captured. For the many cases that fail before anything starts (options, exit codes): a spawn
 * costs seconds of TypeScript loading each.
 */
export async function runInProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const { main } = await import('../../src/cli/main.ts');
  const saved = { ...process.env };
  for (const name of SHELL_SETTINGS) delete process.env[name];
  Object.assign(process.env, env);
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'activity-tracking', ...args]);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  }
}

/** Collects a child's stdout and stderr together, as they arrive; the result reads what came so far. */
export function collectOutput(child: { stdout: NodeJS.ReadableStream | null; stderr: NodeJS.ReadableStream | null }) {
  let out = '';
  const add = (c: Buffer) => {
    out += c.toString();
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  return () => out;
}
