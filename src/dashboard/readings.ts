import { JSON_CONTENT_TYPE, READINGS_BINARY_CONTENT_TYPE } from '../schemas/cloudevents.ts';
import { EVENT_TYPES } from '../schemas/registry.ts';
import type { ConsumedRecord } from '../transport/types.ts';

/** The sample count of a binary body sits at byte 4 in format 1 and format 2 (src/schemas/readings-binary*.ts). */
const COUNT_AT = 4;
const BINARY_HEADER_BYTES = 32;
const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** A readings record, counted: whose samples and how many. */
export interface ReadingsCount {
  device: string;
  samples: number;
}

/**
 * Counts the samples of a sensor-readings record (v1 or v2, JSON or binary) without decoding it: the
 * dashboard reads the busiest topic for a rate only. A binary body says its count in its header; a
 * JSON body's sample rows are its only arrays nested two deep (`{"samples":[[...],...]}`: labels and
 * timestamps are flat), so one pass over the bytes, skipping strings, counts them with no parse and
 * no allocation. The device is the record's key (every per-device topic is keyed by it), else
 * `ce_subject`. Not validated: a record the featurizer refuses is shown by its dead letter, not here;
 * null for what cannot be counted (another type, an unreadable body, no device).
 */
export function countReadings(r: ConsumedRecord): ReadingsCount | null {
  const type = r.headers.ce_type;
  if (type !== EVENT_TYPES.sensorReadings && type !== EVENT_TYPES.sensorReadingsV2) return null;
  const device = r.key ?? r.headers.ce_subject;
  if (!device) return null;
  const contentType = r.headers['content-type'] ?? JSON_CONTENT_TYPE;
  let samples: number;
  if (contentType === READINGS_BINARY_CONTENT_TYPE)
    samples = r.value.length >= BINARY_HEADER_BYTES ? r.value.readUInt32LE(COUNT_AT) : -1;
  else if (contentType.startsWith(JSON_CONTENT_TYPE)) samples = jsonRows(r.value);
  else samples = -1;
  return samples > 0 ? { device, samples } : null;
}

/** Arrays opened at depth 2 (inside a top-level member's array), outside strings; -1 for a body that does not balance. */
function jsonRows(value: Buffer): number {
  let depth = 0;
  let rows = 0;
  let inString = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (depth === 2 && c === OPEN_BRACKET) rows++;
      depth++;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      if (--depth < 0) return -1;
    }
  }
  return depth === 0 && !inString ? rows : -1;
}
