import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectOutput, runCli } from '../support/cli.ts';
import { waitFor } from '../support/wait.ts';

const BIN = path.resolve(import.meta.dirname, '../../bin/activity-tracking.js');

/** Pids of the processes whose parent is `parent` (the run's serving processes). */
async function childrenOf(parent: number): Promise<number[]> {
  const ps = spawn('ps', ['-eo', 'pid=,ppid=']);
  let out = '';
  ps.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  await new Promise((r) => ps.once('close', r));
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter(([, ppid]) => ppid === parent)
    .map(([pid]) => pid);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('run tears everything down', () => {
  it('refuses a bad --drift before it trains or serves anything', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'run-bad-'));
    const r = await runCli(['run', '--drift', 'nonsense', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read drift "nonsense"/);
    expect(r.stdout).not.toMatch(/training:/);
  });

  it('serves its dashboard while it runs; Ctrl-C while the phones stream stops the run, its serving processes and the dashboard', {
    timeout: 180_000,
  }, async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'run-sigint-'));
    const child = spawn(process.execPath, [BIN, 'run', '--out', out], {
      env: { ...process.env, TRANSPORT: 'embedded', MLFLOW_TRACKING_URI: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const outputOf = collectOutput(child);
    const exited = new Promise<number | null>((r) => child.once('close', r));
    let serving: number[] = [];
    try {
      // v1 serves (a local serving process reads the run's registry folder), and the test phones stream.
      await waitFor(() => /test phones:/.test(outputOf()), 'the run reaching the test phones', { timeoutMs: 150_000 });
      serving = await childrenOf(child.pid!);
      expect(serving.length, outputOf()).toBeGreaterThan(0);
      // The dashboard: one line with its URL, on loopback, following the run's topics.
      const url = /^dashboard: (http:\/\/127\.0\.0\.1:\d+)\/$/m.exec(outputOf())?.[1];
      expect(url, outputOf()).toBeDefined();
      expect((await fetch(`${url}/`)).status).toBe(200);
      await waitFor(
        async () => ((await (await fetch(`${url}/healthz`)).json()) as { records: number }).records > 0,
        "the dashboard to read the run's topics",
      );
      child.kill('SIGINT');
      const code = await exited;
      expect(code, outputOf()).not.toBe(0);
      expect(outputOf()).toMatch(/the run was stopped/);
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();
      await waitFor(() => !serving.some(alive), 'the serving processes to exit', { timeoutMs: 20_000 });
    } finally {
      child.kill('SIGKILL');
      for (const pid of serving.filter(alive)) process.kill(pid, 'SIGKILL');
    }
  });
});
