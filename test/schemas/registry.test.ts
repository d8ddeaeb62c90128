import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { schemaFiles } from '../../scripts/gen-types.ts';
import {
  ALL_EVENT_TYPES,
  dataSchemaUri,
  EVENT_CATALOG,
  EVENT_TYPES,
  isEventType,
  parseType,
  schemaOf,
} from '../../src/schemas/registry.ts';
import { TOPICS } from '../../src/topics.ts';

const SCHEMAS = path.resolve(import.meta.dirname, '../../schemas');

describe('event catalog', () => {
  it('maps every schema file to exactly one event type, and back', () => {
    const used = ALL_EVENT_TYPES.map((t) => EVENT_CATALOG[t].schema).sort();
    expect(used).toEqual(schemaFiles().sort());
    expect(new Set(used).size).toBe(used.length);
    expect(Object.values(EVENT_TYPES).sort()).toEqual([...ALL_EVENT_TYPES].sort());
  });

  it('gives each schema an $id that is its path, a unique title, and draft 2020-12', () => {
    const titles = new Set<string>();
    for (const type of ALL_EVENT_TYPES) {
      const file = EVENT_CATALOG[type].schema;
      const raw = JSON.parse(readFileSync(path.join(SCHEMAS, file), 'utf8'));
      expect(raw.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(dataSchemaUri(type)).toBe(`https://activity-tracking.dev/schemas/${file}`);
      expect(schemaOf(type)).toEqual(raw);
      titles.add(raw.title);
    }
    expect(titles.size).toBe(ALL_EVENT_TYPES.length);
  });

  it('keeps the version of a type and of its schema directory equal', () => {
    for (const type of ALL_EVENT_TYPES) {
      expect(EVENT_CATALOG[type].schema.startsWith(`v${parseType(type)?.version}/`), type).toBe(true);
    }
  });

  it('routes each type to one of the canonical topics', () => {
    const topics = new Set<string>(Object.values(TOPICS));
    for (const type of ALL_EVENT_TYPES) expect(topics.has(EVENT_CATALOG[type].topic), type).toBe(true);
    expect(EVENT_CATALOG[EVENT_TYPES.featureVector].topic).toBe('features');
  });

  it('parses type names into name and version', () => {
    expect(parseType('dev.activity-tracking.sensor-readings.v1')).toEqual({ name: 'sensor-readings', version: 1 });
    expect(parseType('dev.activity-tracking.sensor-readings.v12')).toEqual({ name: 'sensor-readings', version: 12 });
    expect(parseType('dev.activity-tracking.sensor-readings')).toBeUndefined();
    expect(parseType('com.example.sensor-readings.v1')).toBeUndefined();
    expect(isEventType('dev.activity-tracking.sensor-readings.v2')).toBe(true);
    expect(isEventType('dev.activity-tracking.sensor-readings.v3')).toBe(false);
  });
});
