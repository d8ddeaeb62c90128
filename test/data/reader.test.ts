import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ACTIVITIES,
  columns,
  HAPT_HEADER,
  hasSharedHar,
  loadByUser,
  loadRecordings,
  parseHapt,
  type Recording,
  readHapt,
  readRecordings,
  SHARED_HAR_DIR,
  samplePaths,
  sharedHarPaths,
  TEST_USERS,
  TRAIN_USERS,
} from '../../src/data/hapt.ts';
import { InvalidRecordError, NotFoundError } from '../../src/errors.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'hapt-reader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(lines: string[], gz = false): string {
  const p = path.join(dir, `${randomUUID()}.csv${gz ? '.gz' : ''}`);
  const text = Buffer.from(`${lines.join('\n')}\n`);
  writeFileSync(p, gz ? gzipSync(text) : text);
  return p;
}

async function collect(p: string): Promise<Recording[]> {
  const out: Recording[] = [];
  for await (const r of readRecordings(p)) out.push(r);
  return out;
}

const row = (user: number, exp: number, sample: number, label: string, v = 0.5) =>
  `${user},${exp},${sample},${label},${v},${-v},1,0.1,0.2,0.3`;

describe('constants', () => {
  it('follow UCI HAR: six activities in UCI order, 21 training and 9 test users', () => {
    expect(ACTIVITIES).toEqual(['WALKING', 'WALKING_UPSTAIRS', 'WALKING_DOWNSTAIRS', 'SITTING', 'STANDING', 'LAYING']);
    expect(TRAIN_USERS).toHaveLength(21);
    expect(TEST_USERS).toHaveLength(9);
    expect(new Set([...TRAIN_USERS, ...TEST_USERS]).size).toBe(30);
  });
});

describe('HAPT reader', () => {
  it('streams recordings with typed samples, labels and transitions kept by name', async () => {
    const p = file(
      [
        HAPT_HEADER,
        row(3, 5, 1, ''),
        row(3, 5, 2, 'WALKING', 0.25),
        row(3, 5, 3, 'STAND_TO_SIT'),
        row(3, 6, 1, 'LAYING'),
        row(4, 7, 10, 'SITTING'),
      ],
      true,
    );
    const recs = await collect(p);
    expect(recs.map((r) => [r.user, r.exp, r.startSample, r.labels.length])).toEqual([
      [3, 5, 1, 3],
      [3, 6, 1, 1],
      [4, 7, 10, 1],
    ]);
    expect(recs[0].labels).toEqual([null, 'WALKING', 'STAND_TO_SIT']);
    expect(Array.from(recs[0].samples.subarray(6, 12))).toEqual([0.25, -0.25, 1, 0.1, 0.2, 0.3]);
    expect(columns(recs[0])[1]).toEqual(Float64Array.from([-0.5, -0.25, -0.5]));
    const byUser = await loadByUser(p);
    expect([...byUser.keys()]).toEqual([3, 4]);
    expect(byUser.get(3)?.map((r) => r.exp)).toEqual([5, 6]);
  });

  it.each([
    ['a wrong header', ['user,exp,sample', row(1, 1, 1, '')], /unexpected header/],
    ['a gap in the samples', [HAPT_HEADER, row(1, 1, 1, ''), row(1, 1, 3, '')], /line 3: sample 3 follows 1/],
    ['a non-number', [HAPT_HEADER, '1,1,1,,0.1,abc,1,0,0,0'], /line 2: column 6 "abc"/],
    ['an empty reading', [HAPT_HEADER, '1,1,1,,0.1,,1,0,0,0'], /column 6 ""/],
    ['an unknown activity', [HAPT_HEADER, row(1, 1, 1, 'JOGGING')], /unknown activity "JOGGING"/],
    ['too few columns', [HAPT_HEADER, '1,1,1,,0.1,0.2,1'], /expected 10 columns/],
    ['a recording resumed', [HAPT_HEADER, row(1, 1, 1, ''), row(1, 2, 1, ''), row(1, 1, 2, '')], /resumes/],
  ])('refuses %s with InvalidRecordError naming the line', async (_, lines, message) => {
    const p = file(lines);
    await expect(collect(p)).rejects.toThrow(InvalidRecordError);
    await expect(collect(p)).rejects.toThrow(message);
    expect(() => readHapt(p)).toThrow(message);
  });

  it('reads the bundled sample identically in streaming and whole-file modes', async () => {
    const streamed = await collect(samplePaths().test);
    const whole = loadRecordings('test', 'sample');
    expect(streamed.length).toBe(whole.length);
    streamed.forEach((r, i) => {
      expect(r.samples).toEqual(whole[i].samples);
      expect(r.labels).toEqual(whole[i].labels);
    });
    expect(new Set(streamed.map((r) => r.user))).toEqual(new Set([2, 4, 9]));
    for (const r of streamed) {
      expect(r.startSample).toBe(1);
      expect(r.samples.length).toBe(6 * r.labels.length);
    }
  });

  it('never substitutes the sample for missing full data', () => {
    expect(() => sharedHarPaths(path.join(dir, 'nowhere'))).toThrow(NotFoundError);
    expect(samplePaths().train).toMatch(/data\/sample\/hapt-raw-train\.csv\.gz$/);
  });

  it.skipIf(!hasSharedHar())(
    'reads the full files: 61 recordings, 30 users, 1,122,772 samples',
    async () => {
      const paths = sharedHarPaths();
      expect(paths.dir).toBe(SHARED_HAR_DIR);
      const train = await loadByUser(paths.train);
      const test = parseHapt(await import('node:fs').then((fs) => fs.readFileSync(paths.test)));
      expect([...train.keys()].sort((a, b) => a - b)).toEqual(TRAIN_USERS);
      expect(new Set(test.map((r) => r.user))).toEqual(new Set(TEST_USERS));
      const trainRecs = [...train.values()].flat();
      expect(trainRecs.length + test.length).toBe(61);
      const rows = (rs: Recording[]) => rs.reduce((a, r) => a + r.labels.length, 0);
      // Row counts from the data set's README.
      expect(rows(trainRecs)).toBe(797_484);
      expect(rows(test)).toBe(325_288);
      expect(trainRecs.reduce((a, r) => a + r.labels.filter((l) => l === 'WALKING').length, 0)).toBe(87_072);
    },
    120_000,
  );
});
