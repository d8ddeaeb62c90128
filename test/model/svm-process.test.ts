import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('loading the SVM module', () => {
  it('leaves no process-exiting unhandledRejection handler and prints nothing', () => {
    // A fresh process: vitest's own handlers would hide the difference.
    const script = `
      const before = process.listeners('unhandledRejection').length;
      await import('./src/model/index.ts');
      console.log(JSON.stringify({ before, after: process.listeners('unhandledRejection').length, fetch: typeof fetch }));`;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout.trim())).toEqual({ before: 0, after: 0, fetch: 'function' });
    expect(run.stderr).not.toMatch(/wasm streaming compile failed/);
  });
});
