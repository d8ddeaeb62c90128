import { InvalidOptionError } from '../../src/errors.ts';
import { mulberry32 } from '../../src/random.ts';
import type { OutgoingRecord } from '../../src/transport/types.ts';
import type { ReadingsProducer } from '../readings-producer.ts';

/**
 * How a replayed phone sends its readings, beyond the 50 Hz rows of sensor-readings v1: the way real
 * phones do (issue 16). Android's SensorManager delivers accelerometer and gyroscope as two streams, each
 * with its own timestamps, at whatever rate the OS grants, with jitter, and with gaps while the app is in
 * the background. Any of these makes the replay send timed readings (sensor-readings v2).
 */
export interface PhoneForm {
  /** Samples per second of each sensor; the 50 Hz recording is resampled to it (cubic). @defaultValue 50 */
  rate?: number;
  /**
   * Each sample taken up to this many ms off its nominal instant (uniform, seeded), and stamped with the
   * instant it was really taken, as a phone's sensor clock does. @defaultValue 0
   */
  jitterMs?: number;
  /** Accelerometer and gyroscope in separate messages, each on its own clock. @defaultValue false */
  splitSensors?: boolean;
  /** A silence of this many ms every `gapEverySeconds` of stream (the app in the background). @defaultValue 0 */
  gapMs?: number;
  /** @defaultValue 60 */
  gapEverySeconds?: number;
  /** @defaultValue 7 */
  seed?: number;
}

/** True when the form asks for anything but v1's aligned 50 Hz rows. */
export function isTimed(form: PhoneForm | undefined): form is PhoneForm {
  return (
    form !== undefined &&
    ((form.rate ?? 50) !== 50 || (form.jitterMs ?? 0) > 0 || form.splitSensors === true || (form.gapMs ?? 0) > 0)
  );
}

export function checkPhoneForm(form: PhoneForm): void {
  const { rate = 50, jitterMs = 0, gapMs = 0, gapEverySeconds = 60 } = form;
  if (!(rate >= 1 && rate <= 1000)) throw new InvalidOptionError(`--rate must be between 1 and 1000 Hz, got ${rate}`);
  if (!(jitterMs >= 0 && jitterMs <= 20))
    throw new InvalidOptionError(`--jitter-ms must be between 0 and 20 ms, got ${jitterMs}`);
  if (!(gapMs >= 0)) throw new InvalidOptionError(`--gap-ms must be >= 0, got ${gapMs}`);
  if (!(gapEverySeconds * 1000 > gapMs)) throw new InvalidOptionError('--gap-every must be longer than --gap-ms');
}

/** Catmull-Rom value of channel `c` of 50 Hz rows at fractional row `pos` (ends clamped). */
function cubicAt(samples: Float64Array, rows: number, pos: number, c: number): number {
  const i = Math.floor(pos);
  const f = pos - i;
  const at = (k: number) => samples[Math.min(rows - 1, Math.max(0, k)) * 6 + c];
  const p0 = at(i - 1);
  const p1 = at(i);
  const p2 = at(i + 1);
  const p3 = at(i + 2);
  return p1 + 0.5 * f * (p2 - p0 + f * (2 * p0 - 5 * p1 + 4 * p2 - p3 + f * (3 * (p1 - p2) + p3 - p0)));
}

/**
 * One device's stream as a phone of `form` sends it: `records(from, to)` gives the timed-readings records
 * for the stretch of the 50 Hz recording between rows `from` and `to` (what v1 would send as one
 * message), so the replay keeps its pacing and its drift. Deterministic for a seed.
 */
export class PhoneStream {
  readonly #device: string;
  readonly #samples: Float64Array;
  readonly #labels: (string | null)[];
  readonly #start: number;
  readonly #form: Required<PhoneForm>;
  readonly #offsets: { acc: Float64Array; gyro: Float64Array };

  constructor(
    device: string,
    stream: { samples: Float64Array; labels: (string | null)[] },
    startTime: number,
    form: PhoneForm,
  ) {
    checkPhoneForm(form);
    this.#device = device;
    this.#samples = stream.samples;
    this.#labels = stream.labels;
    this.#start = startTime;
    this.#form = { rate: 50, jitterMs: 0, splitSensors: false, gapMs: 0, gapEverySeconds: 60, seed: 7, ...form };
    const count = Math.ceil((stream.labels.length * 20 * this.#form.rate) / 1000) + 1;
    const random = mulberry32(this.#form.seed);
    const jitter = () => (2 * random() - 1) * this.#form.jitterMs;
    // The gyroscope runs on its own clock: a third of a period behind the accelerometer's, its own jitter.
    const acc = Float64Array.from({ length: count }, jitter);
    const gyro = Float64Array.from(
      { length: count },
      () => jitter() + (this.#form.splitSensors ? 1000 / this.#form.rate / 3 : 0),
    );
    this.#offsets = { acc, gyro: this.#form.splitSensors ? gyro : acc };
  }

  #inGap(ms: number): boolean {
    const { gapMs, gapEverySeconds } = this.#form;
    if (gapMs === 0) return false;
    const period = gapEverySeconds * 1000;
    return ms % period >= period - gapMs;
  }

  /** The samples of `sensor` whose nominal instant lies in rows [from, to) of the recording. */
  #take(sensor: 'acc' | 'gyro' | 'both', from: number, to: number) {
    const { rate } = this.#form;
    const period = 1000 / rate;
    const rows = this.#labels.length;
    const offsets = sensor === 'gyro' ? this.#offsets.gyro : this.#offsets.acc;
    const channels = sensor === 'acc' ? [0, 1, 2] : sensor === 'gyro' ? [3, 4, 5] : [0, 1, 2, 3, 4, 5];
    const instants: number[] = [];
    for (let k = Math.ceil((from * 20) / period); k * period < to * 20; k++)
      if (!this.#inGap(k * period)) instants.push(Math.max(0, Math.min((rows - 1) * 20, k * period + offsets[k])));
    // Jitter of more than half a period lets neighbours swap: the phone stamps them in the order taken.
    instants.sort((a, b) => a - b);
    const times = instants.map((ms) => this.#start + ms);
    const values = instants.map((ms) => channels.map((c) => cubicAt(this.#samples, rows, ms / 20, c)));
    const labels = instants.map((ms) => this.#labels[Math.round(ms / 20)] ?? null);
    return { times, values, labels };
  }

  records(readings: ReadingsProducer, from: number, to: number): OutgoingRecord[] {
    const out: OutgoingRecord[] = [];
    for (const sensor of this.#form.splitSensors ? (['acc', 'gyro'] as const) : (['both'] as const)) {
      const { times, values, labels } = this.#take(sensor, from, to);
      if (times.length > 0) out.push(readings.timedRecord(this.#device, sensor, times, values, labels));
    }
    return out;
  }
}
