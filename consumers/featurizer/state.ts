import { Featurizer } from '../../src/features/index.ts';
import { Resampler } from '../../src/features/resample.ts';
import { decodeFrame, encodeFrame, type Tracked } from '../../src/pipeline/stream-state.ts';
import { LabelTrack } from './labels.ts';

/** A device's featurizer state between messages (see processor.ts). */
export interface DeviceState extends Tracked {
  featurizer: Featurizer;
  /** Stream sequence of the featurizer's sample 0. */
  base: number;
  /** Next sequence expected. */
  next: number;
  spans: { sequence: number; count: number; timestamp: number; offset: number }[];
  /** The device's calibration (docs/calibration.md), applied to its samples before the featurizer; null: none. */
  calibration: { id: string; rotation: readonly number[]; offset: readonly number[] } | null;
  /**
   * A device sending timed readings (sensor-readings v2): its readings on their way to the 50 Hz grid, and
   * their labels. Sequences (`base`, `next`, `spans`) then count grid rows. Undefined for v1 devices.
   */
  timed?: { resampler: Resampler; labels: LabelTrack };
}

/**
 * A device's checkpoint, in the frame of src/pipeline/stream-state.ts: magic "FZD1", header JSON (base,
 * next, spans, partition, calibration when there is one, the resampler and labels of a timed device),
 * body the featurizer snapshot ("FATZ", its own CRC).
 */
const MAGIC = 0x31445a46;

type Header = Pick<DeviceState, 'base' | 'next' | 'spans' | 'partition'> & {
  calibration?: DeviceState['calibration'];
  /** The resampler's snapshot (base64) and the label track of a v2 device. */
  timed?: { resampler: string; labels: ReturnType<LabelTrack['toJSON']> };
};

export function encodeDevice(s: DeviceState): Uint8Array {
  const header: Header = {
    base: s.base,
    next: s.next,
    spans: s.spans,
    partition: s.partition,
    ...(s.calibration ? { calibration: s.calibration } : {}),
    ...(s.timed
      ? {
          timed: {
            resampler: Buffer.from(s.timed.resampler.snapshot()).toString('base64'),
            labels: s.timed.labels.toJSON(),
          },
        }
      : {}),
  };
  return encodeFrame(MAGIC, header, s.featurizer.snapshot());
}

export function decodeDevice(bytes: Uint8Array): Omit<DeviceState, keyof Tracked> {
  const { header, body } = decodeFrame<Header>(bytes, MAGIC, 'featurizer device checkpoint');
  return {
    base: header.base,
    next: header.next,
    spans: header.spans,
    calibration: header.calibration ?? null,
    featurizer: Featurizer.restore(body),
    ...(header.timed
      ? {
          timed: {
            resampler: Resampler.restore(Buffer.from(header.timed.resampler, 'base64')),
            labels: LabelTrack.from(header.timed.labels),
          },
        }
      : {}),
  };
}
