import { describe, expect, it } from 'vitest';
import { decodeEvent, encodeEvent } from '../../src/schemas/cloudevents.ts';
import { ALL_EVENT_TYPES, type EventType, validatorOf } from '../../src/schemas/registry.ts';
import { EXAMPLES } from './examples.ts';

// biome-ignore lint/suspicious/noExplicitAny: the mutations write deliberately ill-typed values into the examples.
type Mutation = [what: string, mutate: (d: any) => void, instancePath: string, keyword: string];

/** Targeted bad messages per type: each must fail at exactly this place, for exactly this rule. */
const BAD: Record<EventType, Mutation[]> = {
  'dev.activity-tracking.sensor-readings.v1': [
    ['no device', (d) => delete d.device, '', 'required'],
    ['empty device', (d) => (d.device = ''), '/device', 'minLength'],
    ['negative timestamp', (d) => (d.timestamp = -1), '/timestamp', 'minimum'],
    ['zero sample rate', (d) => (d.sampleRate = 0), '/sampleRate', 'exclusiveMinimum'],
    ['fractional sequence', (d) => (d.sequence = 1.5), '/sequence', 'type'],
    ['no samples', (d) => (d.samples = []), '/samples', 'minItems'],
    ['501 samples', (d) => (d.samples = Array(501).fill(d.samples[0])), '/samples', 'maxItems'],
    ['5-value row', (d) => d.samples[3].pop(), '/samples/3', 'minItems'],
    ['7-value row', (d) => d.samples[3].push(0), '/samples/3', 'maxItems'],
    ['string value', (d) => (d.samples[2][4] = '0.5'), '/samples/2/4', 'type'],
    ['null value', (d) => (d.samples[2][4] = null), '/samples/2/4', 'type'],
    ['numeric label', (d) => (d.labels[0] = 3), '/labels/0', 'type'],
    ['unknown field', (d) => (d.battery = 0.5), '', 'additionalProperties'],
  ],
  'dev.activity-tracking.sensor-readings.v2': [
    ['no sensor', (d) => delete d.sensor, '', 'required'],
    ['unknown sensor', (d) => (d.sensor = 'magnetometer'), '/sensor', 'enum'],
    ['no times', (d) => delete d.timestamps, '', 'required'],
    ['both kinds of time', (d) => Object.assign(d, { start: 1, rate: 100 }), '', 'oneOf'],
    ['negative timestamp', (d) => (d.timestamps[1] = -1), '/timestamps/1', 'minimum'],
    ['2-value row', (d) => d.samples[1].pop(), '/samples/1', 'minItems'],
    ['7-value row', (d) => d.samples[1].push(0, 0, 0, 0), '/samples/1', 'maxItems'],
    ['2001 samples', (d) => (d.samples = Array(2001).fill(d.samples[0])), '/samples', 'maxItems'],
    ['unknown field', (d) => (d.battery = 0.5), '', 'additionalProperties'],
  ],
  'dev.activity-tracking.device-calibration.v1': [
    ['8-value rotation', (d) => d.rotation.pop(), '/rotation', 'minItems'],
    ['unknown model', (d) => (d.model = 'affine'), '/model', 'enum'],
    ['no offset', (d) => delete d.offset, '', 'required'],
  ],
  'dev.activity-tracking.feature-vector.v1': [
    [
      'calibration without id',
      (d) => (d.calibration = { rotation: [1, 0, 0, 0, 1, 0, 0, 0, 1], offset: [0, 0, 0] }),
      '/calibration',
      'required',
    ],
    ['no featureSet', (d) => delete d.featureSet, '', 'required'],
    ['no values', (d) => (d.values = []), '/values', 'minItems'],
    ['string value', (d) => (d.values[1] = 'x'), '/values/1', 'type'],
    ['negative offset', (d) => (d.source.firstOffset = -1), '/source/firstOffset', 'minimum'],
    ['label missing (must be null)', (d) => delete d.label, '', 'required'],
    ['extra window field', (d) => (d.window.size = 128), '/window', 'additionalProperties'],
  ],
  'dev.activity-tracking.drift.v1': [
    ['unknown kind', (d) => (d.kind = 'label'), '/kind', 'enum'],
    ['another detector', (d) => (d.detector.name = 'ddm'), '/detector/name', 'const'],
    ['delta above 1', (d) => (d.detector.delta = 2), '/detector/delta', 'maximum'],
    ['no post-drift window', (d) => delete d.window, '', 'required'],
    ['window without toOffset', (d) => delete d.window.toOffset, '/window', 'required'],
    ['confirmedBy 0', (d) => (d.confirmedBy = 0), '/confirmedBy', 'minimum'],
  ],
  'dev.activity-tracking.model.v1': [
    ['unknown event', (d) => (d.event = 'archived'), '/event', 'enum'],
    ['version 0', (d) => (d.version = 0), '/version', 'minimum'],
    ['no candidate score', (d) => delete d.scores.candidate, '/scores', 'required'],
    ['bare hex digest', (d) => (d.artifactDigest = 'a0'.repeat(32)), '/artifactDigest', 'pattern'],
    ['lineage without digest', (d) => delete d.lineage.digest, '/lineage', 'required'],
    ['range without records', (d) => delete d.lineage.ranges[1].records, '/lineage/ranges/1', 'required'],
    ['empty ranges', (d) => (d.lineage.ranges = []), '/lineage/ranges', 'minItems'],
  ],
  'dev.activity-tracking.deployment.v1': [
    ['unknown event', (d) => (d.event = 'paused'), '/event', 'enum'],
    ['unknown target', (d) => (d.target = 'k8s'), '/target', 'enum'],
    ['endpoint not a URI', (d) => (d.endpoint = 'localhost 8081'), '/endpoint', 'format'],
    ['no model', (d) => delete d.model, '', 'required'],
  ],
  'dev.activity-tracking.prediction.v1': [
    ['probability above 1', (d) => (d.probabilities.WALKING = 1.2), '/probabilities/WALKING', 'maximum'],
    ['no probabilities', (d) => (d.probabilities = {}), '/probabilities', 'minProperties'],
    ['negative latency', (d) => (d.latencyMs = -1), '/latencyMs', 'minimum'],
    ['no source', (d) => delete d.source, '', 'required'],
  ],
  'dev.activity-tracking.dead-letter.v1': [
    ['reason not a code', (d) => (d.reason = 'Not JSON!'), '/reason', 'pattern'],
    ['time not RFC 3339', (d) => (d.time = 'yesterday'), '/time', 'format'],
    ['numeric header', (d) => (d.original.headers.retries = 3), '/original/headers/retries', 'type'],
    ['no original value', (d) => delete d.original.value, '/original', 'required'],
  ],
};

describe('message schemas', () => {
  it('cover every event type', () => {
    expect(Object.keys(BAD).sort()).toEqual([...ALL_EVENT_TYPES].sort());
  });

  for (const type of ALL_EVENT_TYPES) {
    describe(type, () => {
      it('accept a realistic example, which round-trips through a CloudEvent', () => {
        const validate = validatorOf(type)!;
        expect(validate(EXAMPLES[type]), JSON.stringify(validate.errors)).toBe(true);
        const { headers, value } = encodeEvent({ type, source: 'test', data: EXAMPLES[type] });
        expect(decodeEvent(headers, value).data).toEqual(EXAMPLES[type]);
      });

      it.each(BAD[type])('reject %s', (_, mutate, instancePath, keyword) => {
        const data = structuredClone(EXAMPLES[type]);
        mutate(data);
        const validate = validatorOf(type)!;
        expect(validate(data)).toBe(false);
        expect(validate.errors?.[0]).toMatchObject({ instancePath, keyword });
      });
    });
  }

  it('leave optional fields optional', () => {
    const { labels: _, ...unlabelled } = EXAMPLES['dev.activity-tracking.sensor-readings.v1'];
    expect(validatorOf('dev.activity-tracking.sensor-readings.v1')!(unlabelled)).toBe(true);
    const {
      lineage: __,
      trigger: ___,
      reason: ____,
      artifactDigest: _____,
      ...bare
    } = EXAMPLES['dev.activity-tracking.model.v1'];
    expect(validatorOf('dev.activity-tracking.model.v1')!(bare)).toBe(true);
  });
});
