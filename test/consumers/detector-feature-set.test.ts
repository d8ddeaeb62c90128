import { describe, expect, it } from 'vitest';
import { Confirmation } from '../../consumers/drift-detector/confirm.ts';
import { DriftDetectorProcessor } from '../../consumers/drift-detector/processor.ts';
import { type DetectorStreamState, decodeStream, encodeStream } from '../../consumers/drift-detector/state.ts';
import { DetectorBank } from '../../src/drift/bank.ts';
import { SnapshotInvalidError } from '../../src/errors.ts';
import { FEATURE_NAMES, FEATURE_SET } from '../../src/features/index.ts';
import { decodeFrame, encodeFrame } from '../../src/pipeline/stream-state.ts';
import { decodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import { consumedVector } from '../support/features.ts';

/**
 * har-v3 keeps har-v2's feature names and changes what they measure (the inputs are conditioned):
 * a detector must neither score such vectors nor restore banks that learnt the old set.
 */
describe('drift detector and feature sets', () => {
  const vector = (featureSet: string, offset: number) =>
    consumedVector(featureSet, offset, {
      values: [0, ...FEATURE_NAMES.slice(1).map((_, k) => k / 100)],
      label: 'WALKING',
    });

  it('dead-letters a vector of another feature set, and takes its own', () => {
    const p = new DriftDetectorProcessor();
    const records = [vector('har-v2-218', 0), vector(FEATURE_SET, 1)];
    const out = p.process({ topic: 'features', partition: 0, records, highWatermark: 2 });
    expect(out).toHaveLength(1);
    const letter = decodeEvent(out[0].headers!, out[0].value, { accept: [EVENT_TYPES.deadLetter] }).data;
    expect(letter.reason).toBe('unknown-feature-set');
    expect(p.banks).toBe(1);
  });

  it('refuses a checkpointed bank made for another feature set, or for an unnamed one', () => {
    const bank = new DetectorBank(FEATURE_NAMES);
    bank.update(
      FEATURE_NAMES.map(() => 0.5),
      0,
    );
    const state: DetectorStreamState = {
      bank,
      confirmation: new Confirmation(),
      offsets: new Float64Array(16),
      activity: 'WALKING',
      calibration: null,
      partition: 0,
      appliedUpTo: 0,
      dirty: false,
      seenAt: 0,
    };
    const bytes = encodeStream(state);
    expect(decodeStream(bytes, 16, undefined).bank.updates).toBe(1);
    const { header, body } = decodeFrame<Record<string, unknown>>(bytes, 0x31534444, 'test');
    const older = encodeFrame(0x31534444, { ...header, featureSet: 'har-v2-218' }, body);
    expect(() => decodeStream(older, 16, undefined)).toThrow(SnapshotInvalidError);
    expect(() => decodeStream(older, 16, undefined)).toThrow(/made for feature set har-v2-218, not har-v3-218/);
    const { featureSet: _, ...unnamed } = header;
    expect(() => decodeStream(encodeFrame(0x31534444, unnamed, body), 16, undefined)).toThrow(/har-v2-218 \(unnamed\)/);
  });
});
