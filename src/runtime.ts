import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Whether this process runs the TypeScript sources (tsx, vitest) rather than the compiled `dist/`
 * (`npm run build`, what bin/activity-tracking.js, the package and the image run). A process is all
 * one or all the other, so one module's extension answers for every module.
 */
export const FROM_SOURCES = import.meta.url.endsWith('.ts');

/** The package's own folder (schemas/, data/): this module is `<root>/src/runtime.ts` or `<root>/dist/src/runtime.js`. */
export const PACKAGE_ROOT = path.resolve(import.meta.dirname, FROM_SOURCES ? '..' : '../..');

/**
 * File URL of one of tsx's ESM entry points, resolved from this package and never from the working
 * directory: a bare `--import tsx` resolves against the cwd, and a serving process started from any
 * other folder than the repository failed with ERR_MODULE_NOT_FOUND (issue 18). Only the sources need
 * tsx; it is a dev dependency, absent from an installed package.
 */
export function tsxEntry(subpath: '.' | './esm/api'): string {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('tsx/package.json');
  const exported = (require(manifest) as { exports: Record<string, string | { import: { default: string } }> }).exports[
    subpath
  ];
  const file = typeof exported === 'string' ? exported : exported.import.default;
  return pathToFileURL(path.join(path.dirname(manifest), file)).href;
}
