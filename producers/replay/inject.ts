import { InvalidOptionError } from '../../src/errors.ts';
import { Butterworth3 } from '../../src/features/dsp.ts';
import { mulberry32 } from '../../src/random.ts';

export { mulberry32 };

/**
 * Drift of the kinds phones really show, applied to raw samples from a given
 * moment on. Samples are rows of [acc x, y, z (g), gyro x, y, z (rad/s)].
 *
 * - `rotation`: the phone worn rotated: acc and gyro vectors turned by the same rotation.
 * - `bias`: a constant sensor offset (a badly calibrated or aging sensor).
 * - `gain`: a scale error of one sensor.
 * - `noise`: added white Gaussian noise (seeded, reproducible).
 * - `sample-rate`: the sensor really samples at `rate` Hz while the phone
 *   still reports 50 Hz (a clock or OS throttling fault): the signal is
 *   resampled and the frequency content of every window shifts.
 * - `lowpass`: another phone's sensor stack, which low-passes on the chip (an 8 Hz filter is common on
 *   cheap accelerometers): a causal 3rd-order Butterworth at `hz` on all six channels.
 */
export type Injection =
  | { kind: 'rotation'; axis: 'x' | 'y' | 'z'; degrees: number }
  | { kind: 'bias'; sensor: 'acc' | 'gyro'; offset: [number, number, number] }
  | { kind: 'gain'; sensor: 'acc' | 'gyro'; factor: number }
  | { kind: 'noise'; sensor: 'acc' | 'gyro'; std: number; seed?: number }
  | { kind: 'sample-rate'; rate: number }
  | { kind: 'lowpass'; hz: number };

/** Parses the CLI form: `rotation:x:60`, `bias:acc:0.2,0,0`, `gain:gyro:1.3`, `noise:acc:0.05`, `sample-rate:40`, `lowpass:8`. */
export function parseInjection(text: string): Injection {
  const [kind, ...rest] = text.split(':');
  const fail = (): never => {
    throw new InvalidOptionError(
      `cannot read drift "${text}"; use rotation:x|y|z:DEGREES, bias:acc|gyro:X,Y,Z, gain:acc|gyro:FACTOR, noise:acc|gyro:STD, sample-rate:HZ or lowpass:HZ (below 25)`,
    );
  };
  const num = (s: string | undefined) => {
    const v = Number(s);
    return s === undefined || s === '' || !Number.isFinite(v) ? fail() : v;
  };
  const sensor = (s: string | undefined) => (s === 'acc' || s === 'gyro' ? s : fail());
  switch (kind) {
    case 'rotation': {
      const axis = rest[0];
      if (axis !== 'x' && axis !== 'y' && axis !== 'z') return fail();
      return { kind, axis, degrees: num(rest[1]) };
    }
    case 'bias': {
      const parts = (rest[1] ?? '').split(',').map(num);
      if (parts.length !== 3) return fail();
      return { kind, sensor: sensor(rest[0]), offset: [parts[0], parts[1], parts[2]] };
    }
    case 'gain':
      return { kind, sensor: sensor(rest[0]), factor: num(rest[1]) };
    case 'noise':
      return { kind, sensor: sensor(rest[0]), std: num(rest[1]) };
    case 'sample-rate': {
      const rate = num(rest[0]);
      return rate > 0 ? { kind, rate } : fail();
    }
    case 'lowpass': {
      const hz = num(rest[0]);
      return hz > 0 && hz < 25 ? { kind, hz } : fail();
    }
    default:
      return fail();
  }
}

function rotationMatrix(axis: 'x' | 'y' | 'z', degrees: number): number[] {
  const t = (degrees * Math.PI) / 180;
  const c = Math.cos(t);
  const s = Math.sin(t);
  if (axis === 'x') return [1, 0, 0, 0, c, -s, 0, s, c];
  if (axis === 'y') return [c, 0, s, 0, 1, 0, -s, 0, c];
  return [c, -s, 0, s, c, 0, 0, 0, 1];
}

/**
 * Applies `injection` to the 6-channel sample rows (flat, row-major, 6 per
 * sample) and returns the new rows. Per-sample labels follow the resampling.
 */
export function applyInjection(
  samples: Float64Array,
  labels: (string | null)[],
  injection: Injection,
): { samples: Float64Array; labels: (string | null)[] } {
  const n = samples.length / 6;
  if (injection.kind === 'sample-rate') {
    // The true rate is `rate`: a sample every 50/rate source steps, linearly interpolated.
    const step = 50 / injection.rate;
    const count = Math.floor((n - 1) / step) + 1;
    const out = new Float64Array(count * 6);
    const outLabels: (string | null)[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const pos = i * step;
      const lo = Math.floor(pos);
      const hi = Math.min(lo + 1, n - 1);
      const f = pos - lo;
      for (let c = 0; c < 6; c++) out[i * 6 + c] = samples[lo * 6 + c] * (1 - f) + samples[hi * 6 + c] * f;
      outLabels[i] = labels[Math.round(pos)] ?? null;
    }
    return { samples: out, labels: outLabels };
  }
  const out = new Float64Array(samples);
  if (injection.kind === 'lowpass') {
    const filter = new Butterworth3(injection.hz, 50);
    const state = new Float64Array(3 * 6);
    // Each channel starts settled on its first value, as a filter that had run all along would be.
    for (let c = 0; c < 6 && n > 0; c++) filter.steadyState(out[c], state, c * 3);
    for (let i = 0; i < n; i++) for (let c = 0; c < 6; c++) out[i * 6 + c] = filter.step(out[i * 6 + c], state, c * 3);
    return { samples: out, labels };
  }
  if (injection.kind === 'rotation') {
    const m = rotationMatrix(injection.axis, injection.degrees);
    for (let i = 0; i < n; i++) {
      for (const base of [i * 6, i * 6 + 3]) {
        const x = out[base];
        const y = out[base + 1];
        const z = out[base + 2];
        out[base] = m[0] * x + m[1] * y + m[2] * z;
        out[base + 1] = m[3] * x + m[4] * y + m[5] * z;
        out[base + 2] = m[6] * x + m[7] * y + m[8] * z;
      }
    }
    return { samples: out, labels };
  }
  const base = injection.sensor === 'acc' ? 0 : 3;
  if (injection.kind === 'bias') {
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[i * 6 + base + c] += injection.offset[c];
  } else if (injection.kind === 'gain') {
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[i * 6 + base + c] *= injection.factor;
  } else {
    const random = mulberry32(injection.seed ?? 42);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) {
        // Box-Muller from two uniforms in (0, 1].
        const u = 1 - random();
        const v = random();
        out[i * 6 + base + c] += injection.std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
      }
    }
  }
  return { samples: out, labels };
}
