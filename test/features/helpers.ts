import { createHash } from 'node:crypto';
import type { FeatureWindow } from '../../src/features/index.ts';

/** sha256 over every window's feature bytes, sample span and label: equal digests = bit-identical windows. */
export function digest(windows: FeatureWindow[]): string {
  const h = createHash('sha256');
  for (const w of windows) {
    h.update(new Uint8Array(w.features.buffer, w.features.byteOffset, w.features.byteLength));
    h.update(`${w.firstSample},${w.lastSample},${w.startTime},${w.endTime},${w.label};`);
  }
  return h.digest('hex');
}
