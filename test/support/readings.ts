import { loadRecordings } from '../../src/data/hapt.ts';
import { encodeEvent, READINGS_BINARY_CONTENT_TYPE } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { SensorReadings } from '../../src/schemas/types.gen.ts';
import type { ConsumedRecord, OutgoingRecord } from '../../src/transport/types.ts';

/**
 * One phone's readings from the sample's first test recording, `samples` a message in the compact binary
 * body, as `phone-a`. With 64 samples a message, a 128-sample window ends with each message after the first.
 */
export function binaryReadings(topic: string, { messages, samples }: { messages: number; samples: number }) {
  const recording = loadRecordings('test', 'sample')[0];
  const rows = recording.samples.length / 6;
  return Array.from({ length: messages }, (_, m): OutgoingRecord => {
    const data = Array.from({ length: samples }, (_, i) => {
      const s = ((m * samples + i) % rows) * 6;
      return Array.from(recording.samples.subarray(s, s + 6));
    });
    const { headers, value } = encodeEvent({
      type: EVENT_TYPES.sensorReadings,
      source: 'activity-tracking/test',
      subject: 'phone-a',
      id: `phone-a:${m * samples}`,
      contentType: READINGS_BINARY_CONTENT_TYPE,
      data: {
        device: 'phone-a',
        timestamp: 1_000_000 + m * 1280,
        sampleRate: 50,
        sequence: m * samples,
        samples: data as SensorReadings['samples'],
      },
    });
    return { topic, key: 'phone-a', headers, value };
  });
}

/** Records as a consumer would get them from partition 0 of `topic`, at offsets 0, 1, 2, ... */
export function asConsumed(records: OutgoingRecord[], topic: string): ConsumedRecord[] {
  return records.map((r, offset) => ({
    topic,
    partition: 0,
    offset,
    key: r.key,
    value: r.value,
    headers: r.headers ?? {},
    timestamp: 0,
  }));
}
