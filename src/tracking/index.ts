import path from 'node:path';
import { EmbeddedTrackingStore } from './embedded/store.ts';
import type { TrackingBackend } from './types.ts';

export { EmbeddedTrackingStore } from './embedded/store.ts';
export * from './types.ts';

/** The environment variables of the tracking backend (docs/configuration.md). */
export const TRACKING_ENV = {
  dir: 'TRACKING_DIR',
  mlflowUri: 'MLFLOW_TRACKING_URI',
} as const;

export interface TrackingBackendOptions {
  /** Folder of the embedded store. @defaultValue $TRACKING_DIR or `.data/tracking` */
  dir?: string;
}

/** The embedded store under `dir` (the default backend: no server needed). */
export function createTrackingBackend(options: TrackingBackendOptions = {}): TrackingBackend {
  return new EmbeddedTrackingStore(path.resolve(options.dir ?? process.env[TRACKING_ENV.dir] ?? '.data/tracking'));
}
