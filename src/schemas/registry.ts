import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type {
  DeadLetter,
  DeploymentEvent,
  DriftEvent,
  FeatureVector,
  ModelEvent,
  Prediction,
  SensorReadings,
} from './types.gen.ts';

const SCHEMA_DIR = path.resolve(import.meta.dirname, '../../schemas/v1');
const PREFIX = 'dev.activity-tracking.';

/** CloudEvents `type` of every message, with its data type: one place maps types to schemas. */
export interface EventDataMap {
  'dev.activity-tracking.sensor-readings.v1': SensorReadings;
  'dev.activity-tracking.feature-vector.v1': FeatureVector;
  'dev.activity-tracking.drift.v1': DriftEvent;
  'dev.activity-tracking.model.v1': ModelEvent;
  'dev.activity-tracking.deployment.v1': DeploymentEvent;
  'dev.activity-tracking.prediction.v1': Prediction;
  'dev.activity-tracking.dead-letter.v1': DeadLetter;
}
export type EventType = keyof EventDataMap;

export const EVENT_TYPES = {
  sensorReadings: 'dev.activity-tracking.sensor-readings.v1',
  featureVector: 'dev.activity-tracking.feature-vector.v1',
  drift: 'dev.activity-tracking.drift.v1',
  model: 'dev.activity-tracking.model.v1',
  deployment: 'dev.activity-tracking.deployment.v1',
  prediction: 'dev.activity-tracking.prediction.v1',
  deadLetter: 'dev.activity-tracking.dead-letter.v1',
} as const satisfies Record<string, EventType>;

const SCHEMA_FILES: Record<EventType, string> = {
  'dev.activity-tracking.sensor-readings.v1': 'sensor-readings.json',
  'dev.activity-tracking.feature-vector.v1': 'feature-vector.json',
  'dev.activity-tracking.drift.v1': 'drift-event.json',
  'dev.activity-tracking.model.v1': 'model-event.json',
  'dev.activity-tracking.deployment.v1': 'deployment-event.json',
  'dev.activity-tracking.prediction.v1': 'prediction.json',
  'dev.activity-tracking.dead-letter.v1': 'dead-letter.json',
};

// One Ajv instance, validators compiled once at module load (STYLE habit 4).
const ajv = new Ajv2020({ allErrors: false, strict: true, strictTypes: false });
(addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);

export function schemaOf(type: EventType): { $id: string } & Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(SCHEMA_DIR, SCHEMA_FILES[type]), 'utf8'));
}

const validators = new Map<string, ValidateFunction>(
  (Object.keys(SCHEMA_FILES) as EventType[]).map((type) => [type, ajv.compile(schemaOf(type))]),
);

export function validatorOf(type: string): ValidateFunction | undefined {
  return validators.get(type);
}

export function isEventType(type: string): type is EventType {
  return validators.has(type);
}

/** Splits `dev.activity-tracking.<name>.v<N>` into its name and version; undefined for foreign types. */
export function parseType(type: string): { name: string; version: number } | undefined {
  if (!type.startsWith(PREFIX)) return undefined;
  const match = /^(.+)\.v(\d+)$/.exec(type.slice(PREFIX.length));
  return match ? { name: match[1], version: Number(match[2]) } : undefined;
}

export function dataSchemaUri(type: EventType): string {
  return schemaOf(type).$id;
}
