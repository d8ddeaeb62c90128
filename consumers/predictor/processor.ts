import { performance } from 'node:perf_hooks';
import { DetectorBank } from '../../src/drift/bank.ts';
import type { AdwinOptions } from '../../src/drift/options.ts';
import { ServiceUnavailableError } from '../../src/errors.ts';
import { FEATURE_NAMES } from '../../src/features/index.ts';
import type { Logger } from '../../src/log/logger.ts';
import type { PipelineMetrics } from '../../src/metrics/metrics.ts';
import { argmaxClasses } from '../../src/model/evaluate.ts';
import type { Classifier } from '../../src/model/types.ts';
import { dropRevoked, processEach, type RecordLoop, RecordRejected } from '../../src/pipeline/dead-letter.ts';
import type { BatchProcessor } from '../../src/pipeline/stream-consumer.ts';
import { decodeEvent, encodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { FeatureVector } from '../../src/schemas/types.gen.ts';
import { TOPICS, type TopicNames } from '../../src/topics.ts';
import type { ConsumedRecord, OutgoingRecord, RecordBatch, TopicPartition } from '../../src/transport/types.ts';

export const COMPONENT = 'predictor';

/** The model a predictor scores with; swapped whole between batches. */
export interface ServingModel {
  name: string;
  version: number;
  classifier: Classifier;
}

export interface PredictorOptions {
  /** The model in use; null makes a batch wait for one (it is redelivered). */
  model: () => ServingModel | null;
  /** ADWIN of the per-device error stream (labelled windows only). @defaultValue delta 0.002, clock 4 */
  adwin?: AdwinOptions;
  topics?: TopicNames;
  logger?: Logger;
  metrics?: PipelineMetrics;
}

interface ErrorStream {
  bank: DetectorBank;
  partition: number;
  /** Offsets of the last OFFSETS labelled vectors, to name where the newer sub-window begins. */
  offsets: Float64Array;
}

const OFFSETS = 1024;

/**
 * Scores feature vectors with the deployed model and publishes a prediction
 * per vector, keyed by device. A batch is scored by one model version: a
 * version switch happens between batches, so no record is scored twice or
 * skipped. Where windows carry labels, the 0/1 error of each prediction feeds
 * a per-device ADWIN; a cut whose newer part has the higher error rate is a
 * concept-drift event (kind "concept", feature null) on the drift topic.
 */
export class PredictorProcessor implements BatchProcessor {
  readonly #options: PredictorOptions;
  readonly #topics: TopicNames;
  readonly #loop: RecordLoop;
  readonly #errors = new Map<string, ErrorStream>();
  readonly stats = { predictions: 0, labelled: 0, correct: 0, conceptDrifts: 0 };
  /** Labelled predictions and correct ones per model version, for live views. */
  readonly byVersion = new Map<number, { labelled: number; correct: number; recent: number[] }>();

  constructor(options: PredictorOptions) {
    this.#options = options;
    this.#topics = options.topics ?? TOPICS;
    this.#loop = {
      component: COMPONENT,
      deadLetterTopic: this.#topics.deadLetter,
      logger: options.logger?.child({ component: COMPONENT }),
      metrics: options.metrics,
    };
  }

  process(batch: RecordBatch): OutgoingRecord[] {
    const model = this.#options.model();
    // Thrown, not dead-lettered: the batch is redelivered once a model is deployed.
    if (model === null) throw new ServiceUnavailableError('no model deployed yet', { retriable: true });
    const started = performance.now();
    // Decode first, score the batch's good vectors in one call, then emit in offset order.
    const decoded: (FeatureVector | null)[] = [];
    const out = processEach(this.#loop, batch.records, (record) => {
      decoded.push(null);
      const { data } = decodeEvent(record.headers, record.value, { accept: [EVENT_TYPES.featureVector] });
      if (data.featureSet !== model.classifier.featureSet)
        throw new RecordRejected(
          'unknown-feature-set',
          `feature set "${data.featureSet}" is not the model's ${model.classifier.featureSet}`,
        );
      if (data.values.length !== FEATURE_NAMES.length)
        throw new RecordRejected(
          'wrong-feature-count',
          `${data.values.length} values, ${FEATURE_NAMES.length} expected`,
        );
      decoded[decoded.length - 1] = data;
    });
    const good = decoded.flatMap((d, i) => (d ? [{ d, record: batch.records[i] }] : []));
    if (good.length === 0) return out;
    const proba = model.classifier.predictProba(good.map((g) => g.d.values));
    const predicted = argmaxClasses(model.classifier.classes, proba);
    const latencyMs = (performance.now() - started) / good.length;
    for (let i = 0; i < good.length; i++) {
      const { d, record } = good[i];
      out.push(this.#prediction(model, d, record, predicted[i], proba[i], latencyMs));
      if (d.label) this.#watchError(d, record, predicted[i] !== d.label ? 1 : 0, out);
    }
    this.#options.metrics?.predictionSeconds.observe({ component: COMPONENT }, (performance.now() - started) / 1000);
    return out;
  }

  onRevoked(partitions: TopicPartition[]): void {
    dropRevoked(this.#errors, partitions);
  }

  #prediction(
    model: ServingModel,
    d: FeatureVector,
    record: ConsumedRecord,
    activity: string,
    proba: number[],
    latencyMs: number,
  ): OutgoingRecord {
    this.stats.predictions++;
    if (d.label) {
      this.stats.labelled++;
      const hit = d.label === activity ? 1 : 0;
      this.stats.correct += hit;
      const v = this.byVersion.get(model.version) ?? { labelled: 0, correct: 0, recent: [] };
      v.labelled++;
      v.correct += hit;
      v.recent.push(hit);
      if (v.recent.length > 200) v.recent.shift();
      this.byVersion.set(model.version, v);
    }
    const { headers, value } = encodeEvent({
      type: EVENT_TYPES.prediction,
      source: `activity-tracking/${COMPONENT}`,
      subject: d.device,
      // One prediction per vector and version: a redelivered vector scored again by the same version has the same id.
      id: `${record.topic}:${record.partition}:${record.offset}:v${model.version}`,
      data: {
        device: d.device,
        window: { start: d.window.start, end: d.window.end },
        activity,
        probabilities: Object.fromEntries(model.classifier.classes.map((c, i) => [c, proba[i]])),
        model: model.name,
        version: model.version,
        latencyMs,
        label: d.label,
        source: { topic: record.topic, partition: record.partition, offset: record.offset },
      },
      validate: false,
    });
    return { topic: this.#topics.predictions, key: d.device, headers, value };
  }

  #watchError(d: FeatureVector, record: ConsumedRecord, error: 0 | 1, out: OutgoingRecord[]): void {
    let stream = this.#errors.get(d.device);
    if (!stream) {
      stream = {
        bank: new DetectorBank(['error-rate'], this.#options.adwin ?? { delta: 0.002, clock: 4 }),
        partition: record.partition,
        offsets: new Float64Array(OFFSETS),
      };
      this.#errors.set(d.device, stream);
    }
    const index = stream.bank.updates;
    stream.offsets[index % OFFSETS] = record.offset;
    for (const f of stream.bank.update([error], record.offset)) {
      if (!(f.meanAfter > f.meanBefore)) continue; // the error rate fell: the model got better, not drift
      this.stats.conceptDrifts++;
      this.#options.metrics?.driftEvents.inc({ component: COMPONENT, kind: 'concept' });
      const { headers, value } = encodeEvent({
        type: EVENT_TYPES.drift,
        source: `activity-tracking/${COMPONENT}`,
        subject: d.device,
        id: `${record.topic}:${record.partition}:${record.offset}:concept`,
        data: {
          kind: 'concept',
          device: d.device,
          activity: null,
          feature: null,
          featureIndex: null,
          detector: { name: 'adwin', delta: stream.bank.delta },
          widthBefore: f.widthBefore,
          widthAfter: f.widthAfter,
          meanBefore: Number.isFinite(f.meanBefore) ? f.meanBefore : null,
          meanAfter: f.meanAfter,
          detectedAt: { topic: record.topic, partition: record.partition, offset: record.offset },
          // The newer sub-window: the last widthAfter labelled vectors of this device, at most back to here.
          window: {
            topic: record.topic,
            partition: record.partition,
            fromOffset: record.offset,
            toOffset: record.offset,
          },
          confirmedBy: 1,
          time: d.window.end,
        },
      });
      out.push({ topic: this.#topics.driftEvents, key: d.device, headers, value });
    }
  }
}
