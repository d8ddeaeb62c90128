import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { PACKAGE_ROOT } from '../runtime.ts';
import { TOPICS, type TopicName } from '../topics.ts';
import type {
  DeadLetter,
  DeploymentEvent,
  DeviceCalibration,
  DriftEvent,
  FeatureVector,
  ModelEvent,
  Prediction,
  SensorReadings,
  SensorReadingsV2,
} from './types.gen.ts';

const SCHEMA_ROOT = path.join(PACKAGE_ROOT, 'schemas');
const PREFIX = 'dev.activity-tracking.';

/** CloudEvents `type` of every message, with its data type. */
export interface EventDataMap {
  'dev.activity-tracking.sensor-readings.v1': SensorReadings;
  'dev.activity-tracking.sensor-readings.v2': SensorReadingsV2;
  'dev.activity-tracking.device-calibration.v1': DeviceCalibration;
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
  sensorReadingsV2: 'dev.activity-tracking.sensor-readings.v2',
  deviceCalibration: 'dev.activity-tracking.device-calibration.v1',
  featureVector: 'dev.activity-tracking.feature-vector.v1',
  drift: 'dev.activity-tracking.drift.v1',
  model: 'dev.activity-tracking.model.v1',
  deployment: 'dev.activity-tracking.deployment.v1',
  prediction: 'dev.activity-tracking.prediction.v1',
  deadLetter: 'dev.activity-tracking.dead-letter.v1',
} as const satisfies Record<string, EventType>;

/**
 * The one place that ties an event type to its schema file and its topic.
 * A new version gets its own row (`….v2` → `schemas/v2/…`) beside the old one.
 */
export const EVENT_CATALOG: Readonly<Record<EventType, { schema: string; topic: TopicName }>> = {
  'dev.activity-tracking.sensor-readings.v1': { schema: 'v1/sensor-readings.json', topic: TOPICS.sensorReadings },
  // Any rate, with times, one sensor or both (docs/features.md); v1 is still read.
  'dev.activity-tracking.sensor-readings.v2': { schema: 'v2/sensor-readings.json', topic: TOPICS.sensorReadings },
  // In-band with the readings, keyed by device: the featurizer applies it in order with them.
  'dev.activity-tracking.device-calibration.v1': { schema: 'v1/device-calibration.json', topic: TOPICS.sensorReadings },
  'dev.activity-tracking.feature-vector.v1': { schema: 'v1/feature-vector.json', topic: TOPICS.features },
  'dev.activity-tracking.drift.v1': { schema: 'v1/drift-event.json', topic: TOPICS.driftEvents },
  'dev.activity-tracking.model.v1': { schema: 'v1/model-event.json', topic: TOPICS.modelEvents },
  'dev.activity-tracking.deployment.v1': { schema: 'v1/deployment-event.json', topic: TOPICS.deploymentEvents },
  'dev.activity-tracking.prediction.v1': { schema: 'v1/prediction.json', topic: TOPICS.predictions },
  'dev.activity-tracking.dead-letter.v1': { schema: 'v1/dead-letter.json', topic: TOPICS.deadLetter },
};

export const ALL_EVENT_TYPES = Object.keys(EVENT_CATALOG) as readonly EventType[];

/**
 * One Ajv instance for every schema, validators compiled once at module load
 * (STYLE habit 4). `strictNumbers` makes `type: number` refuse NaN and
 * ±Infinity: JSON.parse turns `1e999` into Infinity, and an encoder handed
 * NaN would otherwise write `null` without a word. `allowUnionTypes` permits
 * the `["string", "null"]` unions; every other strict check stays on.
 */
export const ajv = new Ajv2020({ allErrors: false, strict: true, allowUnionTypes: true, strictNumbers: true });
(addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);

type Schema = { $id: string; title: string } & Record<string, unknown>;

const schemas = new Map<EventType, Schema>(
  ALL_EVENT_TYPES.map((type) => [
    type,
    JSON.parse(readFileSync(path.join(SCHEMA_ROOT, EVENT_CATALOG[type].schema), 'utf8')) as Schema,
  ]),
);
const validators = new Map<string, ValidateFunction>(ALL_EVENT_TYPES.map((t) => [t, ajv.compile(schemaOf(t))]));

/** The parsed JSON Schema of an event type's data. */
export function schemaOf(type: EventType): Schema {
  return schemas.get(type)!;
}

export function validatorOf(type: string): ValidateFunction | undefined {
  return validators.get(type);
}

export function isEventType(type: string): type is EventType {
  return validators.has(type);
}

/** Splits `dev.activity-tracking.<name>.v<N>` into its name and version; undefined for foreign types. */
export function parseType(type: string): { name: string; version: number } | undefined {
  if (!type.startsWith(PREFIX)) return undefined;
  const match = /^([a-z0-9-]+)\.v(\d+)$/.exec(type.slice(PREFIX.length));
  return match ? { name: match[1], version: Number(match[2]) } : undefined;
}

/** The `dataschema` attribute of an event type: its schema's `$id`. */
export function dataSchemaUri(type: EventType): string {
  return schemaOf(type).$id;
}

/** `/samples/3/1 must be number (keyword type, schema #/properties/…)`: where, what, and which rule. */
export function describeAjvError(e: ErrorObject | undefined): string {
  if (!e) return '/ is invalid';
  const where = e.instancePath || '/';
  const p = e.params as Record<string, unknown>;
  let detail = '';
  if (e.keyword === 'additionalProperties') detail = `: "${String(p.additionalProperty)}"`;
  else if (e.keyword === 'enum')
    detail = `: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  else if (e.keyword === 'const') detail = `: ${JSON.stringify(p.allowedValue)}`;
  return `${where} ${e.message ?? 'is invalid'}${detail} (${e.schemaPath})`;
}
