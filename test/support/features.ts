import { Writable } from 'node:stream';
import { FEATURE_NAMES, FEATURE_SET } from '../../src/features/index.ts';
import { createLogger, type Logger } from '../../src/log/logger.ts';
import { type ContentType, encodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { ConsumedRecord, OutgoingRecord } from '../../src/transport/types.ts';

const ACTIVITIES = ['WALKING', 'WALKING_UPSTAIRS', 'WALKING_DOWNSTAIRS', 'SITTING', 'STANDING', 'LAYING'];

/**
 * Feature vectors of the current feature set, `perDevice` windows per phone in time order, the activity
 * changing every window and readable from the values (each near its activity's index): enough for a
 * first model in milliseconds. `labelled: false` gives the same vectors without their labels.
 */
export function featureVectors(
  topic: string,
  { devices = 3, perDevice = 120, labelled = true }: { devices?: number; perDevice?: number; labelled?: boolean } = {},
): OutgoingRecord[] {
  const out: OutgoingRecord[] = [];
  for (let d = 0; d < devices; d++) {
    const device = `synthetic-${d}`;
    for (let i = 0; i < perDevice; i++) {
      const c = i % ACTIVITIES.length;
      const values = FEATURE_NAMES.map((_, k) => c + (((i * 31 + k * 17 + d * 7) % 11) - 5) / 50) as [
        number,
        ...number[],
      ];
      const { headers, value } = encodeEvent({
        type: EVENT_TYPES.featureVector,
        source: 'test',
        subject: device,
        id: `${device}:${i}`,
        data: {
          device,
          featureSet: FEATURE_SET,
          values,
          window: { start: i * 1280, end: i * 1280 + 2560, firstSample: i * 64, lastSample: i * 64 + 127 },
          source: { topic: 'sensor-readings', partition: 0, firstOffset: i * 64, lastOffset: i * 64 + 127 },
          label: labelled ? ACTIVITIES[c] : null,
          predicted: null,
        },
      });
      out.push({ topic, key: device, headers, value });
    }
  }
  return out;
}

/** A logger whose records a test reads back whole (STYLE habit 6). */
export function recordingLogger(level = 'info'): { logger: Logger; records: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return {
    logger: createLogger({ level, destination: sink as never }),
    records: () => lines.flatMap((l) => l.split('\n').filter(Boolean)).map((l) => JSON.parse(l)),
  };
}

/**
 * One consumed feature vector of `featureSet` from `user-01` at `offset` of partition 0 of `features`,
 * for processors fed by hand. @defaultValue values 0, 0.01, 0.02, ...; label null; a JSON body
 */
export function consumedVector(
  featureSet: string,
  offset: number,
  { values, label = null, contentType }: { values?: number[]; label?: string | null; contentType?: ContentType } = {},
): ConsumedRecord {
  const { headers, value } = encodeEvent({
    type: EVENT_TYPES.featureVector,
    source: 'test',
    ...(contentType ? { contentType } : {}),
    data: {
      device: 'user-01',
      featureSet,
      values: (values ?? FEATURE_NAMES.map((_, k) => k / 100)) as [number, ...number[]],
      window: { start: 0, end: 2540, firstSample: 0, lastSample: 127 },
      source: { topic: 'sensor-readings', partition: 0, firstOffset: 0, lastOffset: 1 },
      label,
      predicted: null,
    },
  });
  return { topic: 'features', partition: 0, offset, key: 'user-01', value, headers, timestamp: 0 };
}
