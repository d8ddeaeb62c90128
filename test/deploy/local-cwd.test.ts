import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalTarget } from '../../src/deploy/local.ts';
import { writeTestModel } from '../serving/models.ts';
import { collectOutput } from '../support/cli.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const COMPILED = pathToFileURL(path.join(ROOT, 'dist/src/deploy/local.js')).href;

// Issue 18: `activity-tracking run` from any folder but the repository's failed to start its serving
// process (ERR_MODULE_NOT_FOUND: `--import tsx` was resolved from the working directory).
describe('the local target from a working directory outside the package', () => {
  let away: string;
  let models: string;
  beforeAll(async () => {
    away = await mkdtemp(path.join(tmpdir(), 'deploy-cwd-'));
    models = await mkdtemp(path.join(tmpdir(), 'deploy-cwd-models-'));
    await writeTestModel(models, { name: 'har', version: 1 });
  });
  afterAll(async () => {
    await rm(away, { recursive: true, force: true });
    await rm(models, { recursive: true, force: true });
  });

  it('is a folder where tsx cannot be resolved (the condition the bug needed)', () => {
    expect(() => createRequire(path.join(away, 'x.js')).resolve('tsx')).toThrow(/Cannot find module/);
  });

  it('from the sources: the serving process (tsx resolved from the package) becomes healthy', async () => {
    const target = new LocalTarget({ modelDir: models });
    const cwd = process.cwd();
    process.chdir(away);
    try {
      const d = await target.deploy({ name: 'har', version: 1 });
      expect((await fetch(`${d.endpoint}/readyz`)).status).toBe(200);
    } finally {
      process.chdir(cwd);
      await target.close();
    }
  }, 30_000);

  it('compiled: plain node runs dist/ and its serving process becomes healthy, with no tsx anywhere', async () => {
    expect(existsSync(new URL(COMPILED)), 'dist/ is built by the test setup').toBe(true);
    const script = `
      import { readFileSync } from 'node:fs';
      const { LocalTarget } = await import(${JSON.stringify(COMPILED)});
      const target = new LocalTarget({ modelDir: ${JSON.stringify(models)} });
      try {
        const d = await target.deploy({ name: 'har', version: 1 });
        const status = (await fetch(d.endpoint + '/readyz')).status;
        const argv = readFileSync('/proc/' + d.id + '/cmdline', 'utf8').split('\\0').filter(Boolean);
        console.log(JSON.stringify({ status, argv }));
      } finally {
        await target.close();
      }`;
    const { NODE_OPTIONS: _, ...env } = process.env;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: away,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const outOf = collectOutput(child);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, outOf()).toBe(0);
    const line = outOf()
      .split('\n')
      .find((l) => l.startsWith('{"status"'));
    const { status, argv } = JSON.parse(line ?? '{}') as { status: number; argv: string[] };
    expect(status).toBe(200);
    expect(argv.slice(1)).toEqual([path.join(ROOT, 'dist/src/serving/main.js')]);
  }, 30_000);
});
