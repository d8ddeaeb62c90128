import { InvalidValueError } from '../../src/errors.ts';
import { type ResampledRows, Resampler } from '../../src/features/resample.ts';
import { RecordRejected } from '../../src/pipeline/dead-letter.ts';
import { TIMED_ROW_WIDTH } from '../../src/schemas/readings-binary-v2.ts';
import type { SensorReadingsV2 } from '../../src/schemas/types.gen.ts';
import { LabelTrack } from './labels.ts';

/** A device's timed readings on their way to the grid (sensor-readings v2). */
export interface Timed {
  resampler: Resampler;
  labels: LabelTrack;
}

export function newTimed(): Timed {
  return { resampler: new Resampler(), labels: new LabelTrack() };
}

/** The epoch-ms time of each sample of a v2 message: its timestamps, or start + i / rate. */
function timesOf(data: SensorReadingsV2): ArrayLike<number> {
  if (data.timestamps) return data.timestamps;
  const start = data.start!;
  const period = 1000 / data.rate!;
  return Float64Array.from(data.samples, (_, i) => start + i * period);
}

/**
 * Puts a v2 message's samples through the device's resampler: the rows it completes on the 50 Hz grid
 * (the resampler's reusable output, read before the next call), with the breaks where a gap ended the
 * signal. A message the resampler cannot take is refused whole (`invalid-readings`), and the device's
 * state does not move.
 */
export function resampleReadings(timed: Timed, data: SensorReadingsV2): ResampledRows {
  // Row widths, times and labels as many as samples, no gyro labels: checked by decodeEvent (cross-field rules).
  const width = TIMED_ROW_WIDTH[data.sensor];
  const n = data.samples.length;
  const times = timesOf(data);
  const values = new Float64Array(n * width);
  for (let i = 0; i < n; i++) for (let c = 0; c < width; c++) values[i * width + c] = data.samples[i][c];
  let rows: ResampledRows;
  try {
    if (data.sensor === 'acc') rows = timed.resampler.pushAcc(times, values);
    else if (data.sensor === 'gyro') rows = timed.resampler.pushGyro(times, values);
    else rows = timed.resampler.pushAligned(times, values);
  } catch (err) {
    if (err instanceof InvalidValueError) throw new RecordRejected('invalid-readings', err.message);
    throw err;
  }
  if (data.labels) timed.labels.add(times, data.labels);
  return rows;
}
