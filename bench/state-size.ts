import { DriftDetectorProcessor } from '../consumers/drift-detector/processor.ts';
import { decodeStream } from '../consumers/drift-detector/state.ts';
import { FeaturizerProcessor } from '../consumers/featurizer/processor.ts';
import { FEATURE_NAMES } from '../src/features/index.ts';
import { readCheckpoint, type StreamSnapshot } from '../src/pipeline/checkpoint.ts';
import type { TopicNames } from '../src/topics.ts';
import type { Transport } from '../src/transport/types.ts';

/**
 * What the featurizer and the detector keep per device (issue 17, "state that scales to a million
 * phones"), from the newest snapshots in the two state topics after a run (a consumer's stop writes a
 * last checkpoint, so they hold every stream's final state).
 *
 * Memory: the snapshots restored into fresh processors, the heap and array buffers settled by GC on both
 * sides (bench/adwin.ts's method; `node --expose-gc`). A restored stream holds what the live one held:
 * the same typed arrays (an ADWIN store grows its rows to the restored count, as it grew while live).
 * The snapshots are restored into COPIES processors of each kind, so that the few devices of the bundled
 * sample weigh more than the GC's noise. Without --expose-gc: null.
 */
export interface StateSize {
  devices: number;
  banks: number;
  /** Heap + array buffers per device, featurizer and detector (null without --expose-gc). */
  featurizerBytesPerDevice: number | null;
  detectorBytesPerDevice: number | null;
  /** The detector's typed arrays per bank: the ADWIN store, and the ring of vector offsets. */
  storeBytesPerBank: number;
  offsetRingBytesPerBank: number;
  /** Newest snapshot records (key + value) per device in featurizer-state and detector-state. */
  featurizerCheckpointBytesPerDevice: number;
  detectorCheckpointBytesPerDevice: number;
}

const COPIES = 20;

async function newest(transport: Transport, topic: string): Promise<Map<number, StreamSnapshot[]>> {
  const out = new Map<number, StreamSnapshot[]>();
  const partitions = (await transport.endOffsets(topic)).length;
  for (let p = 0; p < partitions; p++) out.set(p, (await readCheckpoint(transport, topic, p)).snapshots);
  return out;
}

const recordBytes = (snaps: Map<number, StreamSnapshot[]>) =>
  [...snaps.values()].flat().reduce((n, s) => n + Buffer.byteLength(s.key) + s.bytes.byteLength, 0);

async function settle(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Heap + array buffers held by what `make` returns (kept alive until measured), or null without GC. */
async function heldBy(make: () => unknown): Promise<number | null> {
  if (!(globalThis as { gc?: unknown }).gc) return null;
  await settle();
  const before = process.memoryUsage();
  const kept = make();
  await settle();
  const after = process.memoryUsage();
  if (kept === undefined) return null;
  return after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers;
}

/** The figures, or null when the state topics hold no snapshot (checkpoints off). */
export async function stateSize(transport: Transport, topics: TopicNames): Promise<StateSize | null> {
  const fz = await newest(transport, topics.featurizerState);
  const dd = await newest(transport, topics.detectorState);
  const devices = [...fz.values()].flat().length;
  if (devices === 0) return null;
  const detectorSnaps = [...dd.values()].flat();
  const banks = detectorSnaps.length;
  const featurizers = Array.from({ length: COPIES }, () => new FeaturizerProcessor({ eviction: { idleMs: false } }));
  const detectors = Array.from({ length: COPIES }, () => new DriftDetectorProcessor({ eviction: { idleMs: false } }));
  const fzHeap = await heldBy(() => {
    for (const f of featurizers) for (const [p, snaps] of fz) f.restore(p, snaps);
    return featurizers;
  });
  const ddHeap = await heldBy(() => {
    for (const d of detectors) for (const [p, snaps] of dd) d.restore(p, snaps);
    return detectors;
  });
  let store = 0;
  let ring = 0;
  for (const s of detectorSnaps) {
    const d = decodeStream(s.bytes, 4096, undefined);
    store += d.bank.byteLength;
    ring += d.offsets.byteLength;
  }
  if (featurizers[0].devices !== devices || detectors[0].banks !== banks) throw new Error('restore lost streams');
  return {
    devices,
    banks,
    featurizerBytesPerDevice: fzHeap === null ? null : fzHeap / COPIES / devices,
    detectorBytesPerDevice: ddHeap === null ? null : ddHeap / COPIES / devices,
    storeBytesPerBank: store / banks,
    offsetRingBytesPerBank: ring / banks,
    featurizerCheckpointBytesPerDevice: recordBytes(fz) / devices,
    detectorCheckpointBytesPerDevice: recordBytes(dd) / devices,
  };
}

/** The lines bench:pipeline prints: the totals, then how they split. */
export function showStateSize(s: StateSize, print: (line: string) => void = console.log): void {
  const kb = (b: number | null) => (b === null ? 'n/a (run with --expose-gc)' : `${(b / 1024).toFixed(1)} KB`);
  const perBank = s.banks / s.devices;
  const adwins = FEATURE_NAMES.length;
  const memory =
    s.featurizerBytesPerDevice === null || s.detectorBytesPerDevice === null
      ? null
      : s.featurizerBytesPerDevice + s.detectorBytesPerDevice;
  print(
    `state per active device (${s.devices} devices, ${s.banks} (device, activity) banks, ${perBank.toFixed(1)} a device): ` +
      `memory ${kb(memory)} = featurizer ${kb(s.featurizerBytesPerDevice)} + detector ${kb(s.detectorBytesPerDevice)}; ` +
      `checkpoint ${kb(s.featurizerCheckpointBytesPerDevice + s.detectorCheckpointBytesPerDevice)} = featurizer ${kb(s.featurizerCheckpointBytesPerDevice)} + detector ${kb(s.detectorCheckpointBytesPerDevice)}`,
  );
  const bankHeap = s.detectorBytesPerDevice === null ? null : s.detectorBytesPerDevice / perBank;
  print(
    `  detector per bank: ${kb(bankHeap)} in memory, of which typed arrays: ADWIN store ${kb(s.storeBytesPerBank)} (${(s.storeBytesPerBank / adwins).toFixed(0)} B per ADWIN × ${adwins}), offset ring ${kb(s.offsetRingBytesPerBank)}; checkpoint ${kb(s.detectorCheckpointBytesPerDevice / perBank)}`,
  );
}
