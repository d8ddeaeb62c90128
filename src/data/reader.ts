import { createReadStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { createGunzip, gunzipSync } from 'node:zlib';
import { InvalidRecordError } from '../errors.ts';
import { CHANNELS, type HaptLabel, haptLabel } from './activities.ts';

/** One continuous recording (one session of one user's phone). */
export interface Recording {
  user: number;
  exp: number;
  /** 1-based index of the first sample within the recording (1 for whole recordings). */
  startSample: number;
  /**
   * Row-major samples, `CHANNELS` values per sample (acc x, y, z, gyro x, y, z).
   * Rows, not columns, because every consumer (featurizer, replay producer,
   * readings events) takes a sample at a time; `columns()` gives the other layout.
   */
  samples: Float64Array;
  /** The label of each sample's segment (basic activity or transition name); null between segments. */
  labels: (HaptLabel | null)[];
}

export const HAPT_HEADER = 'user,exp,sample,activity,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z';
const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * Turns HAPT CSV lines into recordings. Rows must come ordered by recording
 * then sample (as the files are), with no gaps: a recording is emitted when
 * the next one starts, so memory holds one recording at a time.
 */
class RecordingAssembler {
  readonly #source: string;
  #line = 0;
  #user = 0;
  #exp = -1;
  #start = 1;
  #n = 0;
  #values = new Float64Array(CHANNELS * 4096);
  #labels: (HaptLabel | null)[] = [];
  readonly #seen = new Set<number>();

  constructor(source: string) {
    this.#source = source;
  }

  #fail(message: string): never {
    throw new InvalidRecordError(`${this.#source} line ${this.#line}: ${message}`, {
      context: { source: this.#source, line: this.#line },
    });
  }

  /** Feeds one line (without its newline); returns the recording the line closed, if any. */
  line(row: string): Recording | undefined {
    this.#line++;
    if (this.#line === 1) {
      const header = row.trim();
      if (header !== HAPT_HEADER) this.#fail(`unexpected header "${header}", expected "${HAPT_HEADER}"`);
      return undefined;
    }
    if (row.length === 0 || row === '\r') return undefined;
    const c0 = row.indexOf(',');
    const c1 = row.indexOf(',', c0 + 1);
    const c2 = row.indexOf(',', c1 + 1);
    const c3 = row.indexOf(',', c2 + 1);
    if (c3 < 0) this.#fail('expected 10 columns');
    const user = this.#integer(row.slice(0, c0), 'user');
    const exp = this.#integer(row.slice(c0 + 1, c1), 'exp');
    const sample = this.#integer(row.slice(c1 + 1, c2), 'sample');
    const name = row.slice(c2 + 1, c3);
    let label: HaptLabel | null = null;
    if (name.length > 0) {
      const known = haptLabel(name);
      if (known === undefined) this.#fail(`unknown activity "${name}"`);
      label = known;
    }
    let closed: Recording | undefined;
    if (exp !== this.#exp) {
      if (this.#seen.has(exp)) this.#fail(`recording ${exp} resumes after another one: rows must be ordered by exp`);
      closed = this.finish();
      this.#seen.add(exp);
      this.#exp = exp;
      this.#user = user;
      this.#start = sample;
    } else {
      if (user !== this.#user) this.#fail(`recording ${exp} changes user from ${this.#user} to ${user}`);
      if (sample !== this.#start + this.#n) this.#fail(`sample ${sample} follows ${this.#start + this.#n - 1}`);
    }
    if ((this.#n + 1) * CHANNELS > this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    let from = c3 + 1;
    const at = this.#n * CHANNELS;
    for (let c = 0; c < CHANNELS; c++) {
      let to = row.indexOf(',', from);
      if (c === CHANNELS - 1) {
        if (to >= 0) this.#fail('more than 10 columns');
        to = row.length;
      } else if (to < 0) this.#fail('expected 10 columns');
      const cell = row.slice(from, to);
      const v = Number(cell);
      // Number('') and Number(' ') are 0: an empty cell must not read as a reading of 0.
      if (!Number.isFinite(v) || cell.trim().length === 0)
        this.#fail(`column ${c + 5} "${cell}" is not a finite number`);
      this.#values[at + c] = v;
      from = to + 1;
    }
    this.#labels.push(label);
    this.#n++;
    return closed;
  }

  #integer(cell: string, what: string): number {
    const v = Number(cell);
    if (!Number.isInteger(v) || v < 0 || cell.length === 0)
      this.#fail(`${what} "${cell}" is not a non-negative integer`);
    return v;
  }

  /** The recording in progress, if any; the assembler then starts empty. */
  finish(): Recording | undefined {
    if (this.#n === 0) return undefined;
    const recording: Recording = {
      user: this.#user,
      exp: this.#exp,
      startSample: this.#start,
      samples: this.#values.slice(0, this.#n * CHANNELS),
      labels: this.#labels,
    };
    this.#n = 0;
    this.#labels = [];
    return recording;
  }

  get headerSeen(): boolean {
    return this.#line > 0;
  }
}

/**
 * Streams the recordings of a HAPT raw CSV (`.gz` or plain), one at a time in
 * file order, holding only the recording being read in memory.
 * Malformed rows end the iteration with InvalidRecordError (file and line in the message).
 */
export async function* readRecordings(file: string): AsyncGenerator<Recording> {
  const input = createReadStream(file);
  const stream = file.endsWith('.gz') ? input.pipe(createGunzip()) : input;
  if (stream !== input) input.on('error', (err) => stream.destroy(err));
  stream.setEncoding('utf8');
  const assembler = new RecordingAssembler(path.basename(file));
  let rest = '';
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      const text = rest + chunk;
      let from = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
        const done = assembler.line(text.slice(from, nl));
        from = nl + 1;
        if (done) yield done;
      }
      rest = text.slice(from);
    }
    const last = rest.length > 0 ? assembler.line(rest) : undefined;
    if (last) yield last;
    if (!assembler.headerSeen) throw new InvalidRecordError(`${path.basename(file)}: empty file`);
    const tail = assembler.finish();
    if (tail) yield tail;
  } finally {
    stream.destroy();
  }
}

/** Every recording of a file, grouped by user (a user is a device), each user's recordings in file order. */
export async function loadByUser(file: string): Promise<Map<number, Recording[]>> {
  const users = new Map<number, Recording[]>();
  for await (const r of readRecordings(file)) {
    const list = users.get(r.user);
    if (list) list.push(r);
    else users.set(r.user, [r]);
  }
  return users;
}

/** Parses a whole HAPT raw CSV held in memory (gzipped or not) into recordings, in file order. */
export function parseHapt(bytes: Uint8Array, source = 'HAPT file'): Recording[] {
  const gz = bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];
  const text = Buffer.from(gz ? gunzipSync(bytes) : bytes).toString('utf8');
  const assembler = new RecordingAssembler(source);
  const out: Recording[] = [];
  let from = 0;
  while (from < text.length) {
    let nl = text.indexOf('\n', from);
    if (nl < 0) nl = text.length;
    const done = assembler.line(text.slice(from, nl));
    if (done) out.push(done);
    from = nl + 1;
  }
  if (!assembler.headerSeen) throw new InvalidRecordError(`${source}: empty file`);
  const tail = assembler.finish();
  if (tail) out.push(tail);
  return out;
}

/** Synchronous whole-file read, for scripts and tests that want every recording at once. */
export function readHapt(file: string): Recording[] {
  return parseHapt(readFileSync(file), path.basename(file));
}

/** The recording's samples as one Float64Array per channel (a copy). */
export function columns(recording: Recording): Float64Array[] {
  const n = recording.samples.length / CHANNELS;
  const out = Array.from({ length: CHANNELS }, () => new Float64Array(n));
  for (let i = 0; i < n; i++) for (let c = 0; c < CHANNELS; c++) out[c][i] = recording.samples[i * CHANNELS + c];
  return out;
}
