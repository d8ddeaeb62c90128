import { performance } from 'node:perf_hooks';
import { Adwin } from '../../src/drift/adwin.ts';
import { InvalidOptionError, ServiceUnavailableError, StoppingError } from '../../src/errors.ts';
import type { Logger } from '../../src/log/logger.ts';
import type { PipelineMetrics } from '../../src/metrics/metrics.ts';
import { isUnseen } from '../../src/model/trained-until.ts';
import { processEach, type RecordLoop, RecordRejected, recordLoop } from '../../src/pipeline/dead-letter.ts';
import type { BatchProcessor } from '../../src/pipeline/stream-consumer.ts';
import { decodeEvent, encodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { FeatureVector } from '../../src/schemas/types.gen.ts';
import type { ActiveModel, ModelHandle } from '../../src/serving/model-handle.ts';
import { TOPICS, type TopicNames } from '../../src/topics.ts';
import type { BatchContext, ConsumedRecord, OutgoingRecord, RecordBatch } from '../../src/transport/types.ts';

export const COMPONENT = 'predictor';

export interface PredictorOptions {
  handle: ModelHandle;
  /**
   * Before the first model version: how often a waiting batch heartbeats and checks for a stop (with a
   * batch context), or how long it waits before it fails for redelivery (without one). @defaultValue 1000
   */
  firstModelWaitMs?: number;
  /** ADWIN delta of the error-rate detector. @defaultValue 0.002 */
  errorDelta?: number;
  /** Labelled windows a version must have scored before a rise counts. @defaultValue 30 */
  minErrors?: number;
  /**
   * Labelled windows, never trained on by the version, after which its live accuracy is published as an
   * `evaluated` model event (beside the gate's estimate). @defaultValue 200
   */
  liveWindows?: number;
  topics?: TopicNames;
  logger?: Logger;
  metrics?: PipelineMetrics;
}

/**
 * Scores feature vectors in-process with the handle's current version (one
 * predictProba call per batch) and publishes predictions keyed by device.
 * Labelled windows feed a 0/1 error stream per model version into ADWIN; a
 * detected rise of the error rate is a concept-drift event. In-process rather
 * than over HTTP: see docs/deployment.md (one batched call per poll, no
 * network hop; the serving endpoint is for external clients).
 */
export class PredictorProcessor implements BatchProcessor {
  readonly #handle: ModelHandle;
  readonly #loop: RecordLoop;
  readonly #topics: TopicNames;
  readonly #delta: number;
  readonly #minErrors: number;
  readonly #firstWait: number;
  readonly #liveWindows: number;
  readonly #logger: Logger | undefined;
  #waitLogged = false;
  /** Per version: live evidence so far (labelled windows it never trained on), until it is published. */
  readonly #live = new Map<number, { hits: number; n: number; done: boolean }>();
  #errors: { key: string; adwin: Adwin; seen: number } | null = null;
  readonly stats = { predictions: 0, conceptDrifts: 0 };
  /** Labelled predictions per version, with the last 200 hits, for live views. */
  readonly byVersion = new Map<number, { labelled: number; correct: number; recent: number[] }>();

  constructor(options: PredictorOptions) {
    this.#handle = options.handle;
    this.#topics = options.topics ?? TOPICS;
    this.#delta = options.errorDelta ?? 0.002;
    this.#minErrors = options.minErrors ?? 30;
    this.#firstWait = options.firstModelWaitMs ?? 1000;
    if (!(Number.isFinite(this.#firstWait) && this.#firstWait > 0))
      throw new InvalidOptionError(`firstModelWaitMs must be a positive number of ms, got ${this.#firstWait}`);
    this.#liveWindows = options.liveWindows ?? 200;
    this.#loop = recordLoop(COMPONENT, { ...options, topics: this.#topics });
    // Known label values start at 0, so that rate() and alerts see the series before the first concept drift.
    options.metrics?.driftEvents.inc({ component: COMPONENT, kind: 'concept' }, 0);
    this.#logger = options.logger?.child({ component: COMPONENT });
    const gauge = options.metrics?.waitingForModel;
    if (gauge && !this.#handle.current()) {
      gauge.set({ component: COMPONENT }, 1);
      void this.#handle.first().then(() => gauge.set({ component: COMPONENT }, 0));
    } else gauge?.set({ component: COMPONENT }, 0);
  }

  process(batch: RecordBatch, _ends?: number[], context?: BatchContext): OutgoingRecord[] | Promise<OutgoingRecord[]> {
    const active = this.#handle.current();
    if (active) return this.#score(batch, active);
    return this.#firstVersion(batch, context).then((a) => this.#score(batch, a));
  }

  /**
   * Before the first deployment the batch waits, uncommitted, for a version: heartbeating so that the
   * group keeps the member, and thrown back for redelivery only when the consumer stops. Once a version
   * is deployed the waiting records are scored by it; none is skipped. Throwing per wait instead logged
   * a stack trace at error level every 10 s (kafkajs logs each failed eachBatch, issue 15).
   */
  async #firstVersion(batch: RecordBatch, context: BatchContext | undefined): Promise<ActiveModel> {
    if (!this.#waitLogged) {
      this.#waitLogged = true;
      this.#logger?.info(
        { topic: batch.topic, partition: batch.partition, offset: batch.records[0]?.offset },
        'no model version deployed yet: the predictor waits for the first one, its records uncommitted; `activity-tracking bootstrap` trains and promotes one from the labelled features',
      );
    }
    for (;;) {
      const active = await this.#handle.whenReady(this.#firstWait);
      if (active) {
        this.#logger?.info(
          { model: active.ref.name, version: active.ref.version },
          'first model version deployed: scoring the records that waited',
        );
        return active;
      }
      if (!context) throw new ServiceUnavailableError('predictor has no model version yet');
      if (context.stopping)
        throw new StoppingError('predictor stopping before a first model version: records left uncommitted');
      await context.heartbeat();
    }
  }

  #score(batch: RecordBatch, active: ActiveModel): OutgoingRecord[] {
    const started = performance.now();
    const { classifier } = active.model;
    const dims = (classifier as { standardizer?: { dimensions: number } }).standardizer?.dimensions;
    const good: { record: ConsumedRecord; data: FeatureVector }[] = [];
    const out = processEach(this.#loop, batch.records, (record) => {
      const { data } = decodeEvent(record.headers, record.value, { accept: [EVENT_TYPES.featureVector] });
      if (data.featureSet !== classifier.featureSet)
        throw new RecordRejected(
          'unknown-feature-set',
          `feature set "${data.featureSet}" is not ${classifier.featureSet}, the model's`,
        );
      if (dims !== undefined && data.values.length !== dims)
        throw new RecordRejected('wrong-feature-count', `${data.values.length} feature values, ${dims} expected`);
      good.push({ record, data });
    });
    if (good.length === 0) return out;
    const probs = classifier.predictProba(good.map((g) => g.data.values));
    const latencyMs = performance.now() - started;
    const metrics = this.#loop.metrics;
    if (metrics) {
      metrics.predictionSeconds.observe({ component: COMPONENT }, latencyMs / 1000);
      metrics.modelVersion.set({ component: COMPONENT, model: active.ref.name }, active.ref.version);
    }
    const classes = classifier.classes;
    const key = `${active.ref.name}@${active.ref.version}`;
    if (this.#errors?.key !== key) this.#errors = { key, adwin: new Adwin({ delta: this.#delta }), seen: 0 };
    const errors = this.#errors;
    for (let i = 0; i < good.length; i++) {
      const { record, data } = good[i];
      const p = probs[i];
      let best = 0;
      for (let c = 1; c < p.length; c++) if (p[c] > p[best]) best = c;
      const probabilities: Record<string, number> = {};
      for (let c = 0; c < p.length; c++) probabilities[classes[c]] = p[c];
      const label = data.label ?? null;
      const { headers, value } = encodeEvent({
        type: EVENT_TYPES.prediction,
        source: `activity-tracking/${COMPONENT}`,
        subject: data.device,
        id: `${record.topic}:${record.partition}:${record.offset}:prediction`,
        data: {
          device: data.device,
          window: {
            start: data.window.start,
            end: data.window.end,
            firstSample: data.window.firstSample,
            lastSample: data.window.lastSample,
          },
          activity: classes[best],
          probabilities,
          model: active.ref.name,
          version: active.ref.version,
          latencyMs,
          label,
          source: { topic: record.topic, partition: record.partition, offset: record.offset },
          ...(data.calibration ? { calibration: data.calibration.id } : {}),
        },
      });
      out.push({ topic: this.#topics.predictions, key: data.device, headers, value });
      if (label !== null) {
        const hit = label === classes[best] ? 1 : 0;
        this.#count(active.ref.version, hit);
        this.#evaluate(active, data, hit, record, out);
        this.#feedError(errors, 1 - hit, record, data, out);
      }
    }
    this.stats.predictions += good.length;
    return out;
  }

  /**
   * Live accuracy of the serving version over its first `liveWindows` labelled windows that it never
   * trained on, published once as an `evaluated` model event (id `<model>:<version>:evaluated`, so a
   * redelivered batch that publishes it again is deduplicated downstream).
   */
  #evaluate(active: ActiveModel, data: FeatureVector, hit: number, record: ConsumedRecord, out: OutgoingRecord[]) {
    const registered = active.model.registered;
    if (!registered || !isUnseen(registered.trainedUntil, data.device, data.window.firstSample)) return;
    const v = this.#live.get(active.ref.version) ?? { hits: 0, n: 0, done: false };
    this.#live.set(active.ref.version, v);
    if (v.done) return;
    v.hits += hit;
    v.n++;
    if (v.n < this.#liveWindows) return;
    v.done = true;
    const accuracy = v.hits / v.n;
    const { headers, value } = encodeEvent({
      type: EVENT_TYPES.model,
      source: `activity-tracking/${COMPONENT}`,
      subject: active.ref.name,
      id: `${active.ref.name}:${active.ref.version}:evaluated`,
      data: {
        event: 'evaluated',
        model: active.ref.name,
        version: active.ref.version,
        runId: registered.runId,
        scores: { metric: 'accuracy', candidate: registered.gateEstimate ?? accuracy, production: null },
        artifactDigest: active.model.digest,
        live: { windows: v.n, accuracy },
        reason: `live accuracy over the first ${v.n} labelled windows it never trained on (up to ${record.topic}:${record.partition}:${record.offset})`,
      },
    });
    out.push({ topic: this.#topics.modelEvents, key: active.ref.name, headers, value });
  }

  #count(version: number, hit: number): void {
    const v = this.byVersion.get(version) ?? { labelled: 0, correct: 0, recent: [] };
    v.labelled++;
    v.correct += hit;
    v.recent.push(hit);
    if (v.recent.length > 200) v.recent.shift();
    this.byVersion.set(version, v);
  }

  #feedError(
    errors: { key: string; adwin: Adwin; seen: number },
    miss: number,
    record: ConsumedRecord,
    data: FeatureVector,
    out: OutgoingRecord[],
  ): void {
    const before = errors.adwin.estimation;
    const widthBefore = errors.adwin.width;
    errors.adwin.update(miss);
    errors.seen++;
    if (!errors.adwin.driftDetected || errors.seen < this.#minErrors) return;
    const after = errors.adwin.estimation;
    // Only a rise is concept drift; a falling error rate is the model doing better.
    if (!(after > before)) return;
    this.stats.conceptDrifts++;
    this.#loop.metrics?.driftEvents.inc({ component: COMPONENT, kind: 'concept' });
    const widthAfter = errors.adwin.width;
    const { headers, value } = encodeEvent({
      type: EVENT_TYPES.drift,
      source: `activity-tracking/${COMPONENT}`,
      subject: data.device,
      id: `${record.topic}:${record.partition}:${record.offset}:concept`,
      data: {
        kind: 'concept',
        device: data.device,
        activity: data.label ?? null,
        feature: null,
        featureIndex: null,
        detector: { name: 'adwin', delta: this.#delta },
        widthBefore: Math.max(0, widthBefore + 1 - widthAfter),
        widthAfter,
        meanBefore: null,
        meanAfter: after,
        detectedAt: { topic: record.topic, partition: record.partition, offset: record.offset },
        window: {
          topic: record.topic,
          partition: record.partition,
          fromOffset: Math.max(0, record.offset - widthAfter + 1),
          toOffset: record.offset,
        },
        confirmedBy: 1,
      },
    });
    out.push({ topic: this.#topics.driftEvents, key: data.device, headers, value });
  }
}
