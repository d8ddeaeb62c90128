import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadRecordings, type Recording } from '../../src/data/hapt.ts';
import { SnapshotInvalidError } from '../../src/errors.ts';
import { type FeatureWindow, Featurizer } from '../../src/features/index.ts';
import { crc32 } from '../../src/features/snapshot.ts';
import { digest } from './helpers.ts';

let recording: Recording;
let times: Float64Array;
let reference: FeatureWindow[];

beforeAll(() => {
  recording = loadRecordings('train', 'sample')[1];
  times = Float64Array.from({ length: recording.labels.length }, (_, i) => 1e12 + i * 20);
  reference = new Featurizer().push(recording.samples, recording.labels, times);
});

function runWithRestoreAt(cut: number): FeatureWindow[] {
  const n = recording.labels.length;
  const a = new Featurizer();
  const early = a.push(recording.samples.subarray(0, cut * 6), recording.labels.slice(0, cut), times.subarray(0, cut));
  const b = Featurizer.restore(a.snapshot());
  expect(b.samples).toBe(cut);
  return [
    ...early,
    ...b.push(recording.samples.subarray(cut * 6), recording.labels.slice(cut, n), times.subarray(cut)),
  ];
}

describe('featurizer snapshot', () => {
  // Before the first window, inside a window, exactly on a window boundary, deep into the recording.
  it.each([0, 1, 77, 128, 192, 5037])('continues bit-identically after a restore at sample %i', (cut) => {
    expect(digest(runWithRestoreAt(cut))).toBe(digest(reference));
  });

  it('is compact and carries its options', () => {
    const f = new Featurizer({ sampleRateHz: 40, gravityCutoffHz: 0.5, noiseCutoffHz: 15 });
    f.push(recording.samples.subarray(0, 600));
    const bytes = f.snapshot();
    expect(bytes.byteLength).toBeLessThan(20_000);
    // A featurizer with another noise cut-off goes another way from here: the option was restored.
    const other = new Featurizer({ sampleRateHz: 40, gravityCutoffHz: 0.5, noiseCutoffHz: 12 });
    other.push(recording.samples.subarray(0, 600));
    expect(digest(other.push(recording.samples.subarray(600, 6000)))).not.toBe(
      digest(Featurizer.restore(bytes).push(recording.samples.subarray(600, 6000))),
    );
    const g = Featurizer.restore(bytes);
    expect(g.snapshot()).toEqual(bytes);
    // Same options: both continue identically from here.
    const next = recording.samples.subarray(600, 6000);
    expect(digest(g.push(next))).toBe(digest(f.push(next)));
  });

  it('refuses corrupt, truncated and foreign bytes with SnapshotInvalidError', () => {
    const f = new Featurizer();
    f.push(recording.samples.subarray(0, 3000 * 6), recording.labels.slice(0, 3000));
    const good = f.snapshot();
    const flipped = good.slice();
    flipped[good.length >> 1] ^= 0x10; // a bit inside the ring: only the checksum can see it
    const badVersion = good.slice();
    badVersion[4] = 99;
    const badMagic = good.slice();
    badMagic[0] ^= 0xff;
    const cases: [Uint8Array, RegExp][] = [
      [flipped, /checksum/],
      [good.subarray(0, good.length - 1), /bytes, expected/],
      [badVersion, /version 99/],
      [badMagic, /bad magic/],
      [new Uint8Array(0), /0 bytes/],
    ];
    for (const [bytes, message] of cases) {
      expect(() => Featurizer.restore(bytes)).toThrow(SnapshotInvalidError);
      expect(() => Featurizer.restore(bytes)).toThrow(message);
    }
  });

  it('refuses a version 2 snapshot (before the input conditioning): it holds no median or noise-filter state', () => {
    // Written by the featurizer of har-v2-218 (commit 2bdcd0a) after 3,000 samples of this recording.
    const v2 = new Uint8Array(readFileSync(path.join(import.meta.dirname, '../fixtures/featurizer-snapshot-v2.bin')));
    expect(v2[4]).toBe(2);
    expect(() => Featurizer.restore(v2)).toThrow(SnapshotInvalidError);
    expect(() => Featurizer.restore(v2)).toThrow('featurizer snapshot version 2, this code reads 3');
  });

  it('checks with the standard CRC-32', () => {
    // The CRC-32 check value of "123456789" (IEEE 802.3, as zlib).
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });
});
