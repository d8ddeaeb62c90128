import { InvalidValueError } from '../errors.ts';
import { FEATURE_NAMES, FEATURE_SET, Featurizer, INPUT_CHANNELS, WINDOW } from '../features/index.ts';
import { HttpError } from '../http/request.ts';
import { ajv } from '../schemas/registry.ts';

export { ClientAbort, HttpError, isJsonMediaType, readBody } from '../http/request.ts';

const vector = { type: 'array', items: { type: 'number' }, minItems: 1 };
const FORMS = {
  vector: { schema: vector, hint: 'vector must be a non-empty array of numbers (one feature vector)' },
  vectors: {
    schema: { type: 'array', minItems: 1, items: vector },
    hint: 'vectors must be a non-empty array of feature vectors (arrays of numbers)',
  },
  readings: {
    schema: {
      type: 'array',
      minItems: WINDOW,
      maxItems: WINDOW,
      items: { type: 'array', minItems: INPUT_CHANNELS, maxItems: INPUT_CHANNELS, items: { type: 'number' } },
    },
    hint: `readings must be ${WINDOW} rows of ${INPUT_CHANNELS} numbers [ax, ay, az (g), gx, gy, gz (rad/s)]`,
  },
} as const;
type Form = keyof typeof FORMS;
const FORM_NAMES = Object.keys(FORMS) as Form[];

// One validator per form, chosen by the key the client sent: a oneOf over the
// three reported "must have required property 'vector'" for a bad window.
const validators = Object.fromEntries(
  FORM_NAMES.map((form) => {
    const $id = `urn:activity-tracking:serving:score-request:${form}`;
    const schema = {
      $id,
      type: 'object',
      additionalProperties: false,
      required: [form],
      properties: { [form]: FORMS[form].schema },
    };
    return [form, ajv.getSchema($id) ?? ajv.compile(schema)];
  }),
) as Record<Form, ReturnType<typeof ajv.compile>>;

const violation = (message: string) => new HttpError(400, 'schema_violation', message);

/**
 * Checks a parsed /score body and returns the rows to score. A `readings`
 * window is featurized here (a cold gravity filter: the stream featurizer's is
 * warm); features that come out non-finite mean the readings were not sensor
 * values, so that is the client's 400, not the model's 500.
 */
export function scoreRows(input: unknown, modelFeatureSet: string): readonly (readonly number[] | Float64Array)[] {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw violation(`the body must be a JSON object with one of ${FORM_NAMES.join(', ')}`);
  const given = FORM_NAMES.filter((f) => f in input);
  if (given.length !== 1)
    throw violation(
      given.length === 0
        ? `the body must have one of ${FORM_NAMES.join(', ')}; got ${Object.keys(input).join(', ') || 'no property'}`
        : `give exactly one of ${FORM_NAMES.join(', ')}, not ${given.join(' and ')}`,
    );
  const form = given[0];
  const validate = validators[form];
  if (!validate(input)) {
    const e = validate.errors?.[0];
    const detail =
      e?.keyword === 'additionalProperties'
        ? `unknown property '${(e.params as { additionalProperty: string }).additionalProperty}'`
        : `${e?.instancePath.slice(1) || '(body)'} ${e?.message ?? 'is invalid'}`;
    throw violation(`${FORMS[form].hint}: ${detail}`);
  }
  const body = input as { vector?: number[]; vectors?: number[][]; readings?: number[][] };
  if (!body.readings) return body.vectors ?? [body.vector!];
  if (modelFeatureSet !== FEATURE_SET)
    throw new HttpError(400, 'feature_set_mismatch', `the model takes ${modelFeatureSet}, not ${FEATURE_SET} windows`);
  let features: Float64Array;
  try {
    features = new Featurizer().push(body.readings.flat())[0].features;
  } catch (err) {
    if (err instanceof InvalidValueError) throw new HttpError(400, 'invalid_readings', err.message);
    throw err;
  }
  for (let j = 0; j < features.length; j++)
    if (!Number.isFinite(features[j]))
      throw new HttpError(
        400,
        'invalid_readings',
        `the readings give a non-finite feature (${FEATURE_NAMES[j]} is ${features[j]}): send accelerometer values in g and gyroscope values in rad/s, far from ±1e308`,
      );
  return [features];
}
