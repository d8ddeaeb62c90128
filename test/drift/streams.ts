import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { mulberry32 } from '../../producers/replay/inject.ts';

// mulberry32 is the same generator as scripts/river/streams.py: only exact IEEE operations, so both produce the same doubles.
export { mulberry32 };

export interface Segment {
  kind: 'normal' | 'uniform' | 'bernoulli' | 'constant' | 'ramp';
  n: number;
  mean?: number;
  std?: number;
  low?: number;
  high?: number;
  p?: number;
  value?: number;
  from?: number;
  to?: number;
}

export type StreamSource =
  | { type: 'synthetic'; seed: number; scale: number; segments: Segment[] }
  /** One channel of a HAPT file; a null (or absent) user or exp takes every one, in file order. */
  | { type: 'har'; file: string; user: number | null; exp?: number | null; column: string };

export interface AdwinFixture {
  name: string;
  river: string;
  params: Record<string, number>;
  source: StreamSource;
  length: number;
  detections: number[];
  stepsSha256: string;
  checkpoints: [number, number, number, number][];
}

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const HAR_DIR = path.resolve(ROOT, '../shared/data/har');
export const FIXTURE_DIR = path.join(ROOT, 'test/fixtures/adwin');

export function generate(source: Extract<StreamSource, { type: 'synthetic' }>): Float64Array {
  const random = mulberry32(source.seed);
  const normal = () => {
    let s = 0;
    for (let i = 0; i < 12; i++) s += random();
    return s - 6;
  };
  const total = source.segments.reduce((a, s) => a + s.n, 0);
  const out = new Float64Array(total);
  let j = 0;
  for (const seg of source.segments) {
    for (let i = 0; i < seg.n; i++) {
      let v: number;
      switch (seg.kind) {
        case 'normal':
          v = seg.mean! + seg.std! * normal();
          break;
        case 'uniform':
          v = seg.low! + (seg.high! - seg.low!) * random();
          break;
        case 'bernoulli':
          v = random() < seg.p! ? 1 : 0;
          break;
        case 'constant':
          v = seg.value!;
          break;
        case 'ramp':
          v = seg.from! + (seg.to! - seg.from!) * (i / seg.n) + seg.std! * normal();
          break;
      }
      out[j++] = v * source.scale;
    }
  }
  return out;
}

const harCache = new Map<string, { users: Int32Array; exps: Int32Array; columns: Map<string, Float64Array> }>();

/** One channel of the HAPT recordings, parsed with Number() (correctly rounded, like Python's float()). */
export function harChannel(source: Extract<StreamSource, { type: 'har' }>): Float64Array {
  let parsed = harCache.get(source.file);
  if (!parsed) {
    const text = gunzipSync(readFileSync(path.join(HAR_DIR, source.file))).toString('utf8');
    const lines = text.split('\n');
    const header = lines[0].split(',');
    const rows = lines.slice(1).filter((l) => l.length > 0);
    const users = new Int32Array(rows.length);
    const exps = new Int32Array(rows.length);
    const columns = new Map<string, Float64Array>();
    const wanted = ['acc_x', 'acc_y', 'acc_z', 'gyro_x', 'gyro_y', 'gyro_z'];
    for (const c of wanted) columns.set(c, new Float64Array(rows.length));
    const index = wanted.map((c) => header.indexOf(c));
    const userIndex = header.indexOf('user');
    const expIndex = header.indexOf('exp');
    rows.forEach((line, r) => {
      const cells = line.split(',');
      users[r] = Number(cells[userIndex]);
      exps[r] = Number(cells[expIndex]);
      wanted.forEach((c, k) => {
        columns.get(c)![r] = Number(cells[index[k]]);
      });
    });
    parsed = { users, exps, columns };
    harCache.set(source.file, parsed);
  }
  const column = parsed.columns.get(source.column)!;
  const user = source.user ?? null;
  const exp = source.exp ?? null;
  if (user === null && exp === null) return column;
  const out: number[] = [];
  for (let i = 0; i < column.length; i++) {
    if ((user === null || parsed.users[i] === user) && (exp === null || parsed.exps[i] === exp)) out.push(column[i]);
  }
  return Float64Array.from(out);
}

export function streamOf(fixture: AdwinFixture): Float64Array {
  return fixture.source.type === 'synthetic' ? generate(fixture.source) : harChannel(fixture.source);
}

export function loadFixtures(): AdwinFixture[] {
  return readdirSync(FIXTURE_DIR)
    .filter((f) => f.endsWith('.json.gz'))
    .sort()
    .map((f) => JSON.parse(gunzipSync(readFileSync(path.join(FIXTURE_DIR, f))).toString('utf8')) as AdwinFixture);
}

/** sha256 over (width, total, variance) doubles at every step, little-endian, as the Python script hashes them. */
export class StepHasher {
  readonly #hash = createHash('sha256');
  readonly #buf = new Float64Array(3 * 4096);
  #n = 0;
  push(width: number, total: number, variance: number): void {
    this.#buf[this.#n++] = width;
    this.#buf[this.#n++] = total;
    this.#buf[this.#n++] = variance;
    if (this.#n === this.#buf.length) this.#flush();
  }
  #flush(): void {
    this.#hash.update(new Uint8Array(this.#buf.buffer, 0, this.#n * 8));
    this.#n = 0;
  }
  digest(): string {
    this.#flush();
    return this.#hash.digest('hex');
  }
}
