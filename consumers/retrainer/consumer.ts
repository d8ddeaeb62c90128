import { performance } from 'node:perf_hooks';
import { StoppingError } from '../../src/errors.ts';
import { type Logger, silentLogger } from '../../src/log/logger.ts';
import type { PipelineMetrics } from '../../src/metrics/metrics.ts';
import { decodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { DriftEvent } from '../../src/schemas/types.gen.ts';
import { TOPICS, type TopicNames } from '../../src/topics.ts';
import type { TrackingBackend } from '../../src/tracking/types.ts';
import type { BatchContext, OutgoingRecord, RecordBatch, Subscription, Transport } from '../../src/transport/types.ts';
import { awaitBurstEnd, type BurstClock, realClock } from './burst.ts';
import { calibrateDevices, type DeviceFrame } from './calibrate.ts';
import { Coverage } from './coverage.ts';
import { type PostDriftBurst, postDriftRanges } from './dataset.ts';
import { type Episode, episodeRanges, episodeRecords, foldIntoEpisode, openEpisode } from './episode.ts';
import { type ResolvedRetrainerOptions, type RetrainerOptions, resolveRetrainerOptions } from './options.ts';
import { type CalibrationNote, RetrainerOutputs, type RetrainTiming } from './outputs.ts';
import { COMPONENT, type RetrainOutcome, type RetrainRequest, retrain, type Trainer } from './retrain.ts';
import { Turns } from './turn.ts';

export type { CalibrationNote, RetrainTiming } from './outputs.ts';

export interface RetrainerConsumerOptions extends RetrainerOptions {
  transport: Transport;
  backend: TrackingBackend;
  trainer: Trainer;
  /** @defaultValue 'activity-tracking-retrainer' */
  groupId?: string;
  topics?: TopicNames;
  logger?: Logger;
  metrics?: PipelineMetrics;
  clock?: BurstClock;
  /** Where a new group starts on the drift topic. @defaultValue true */
  fromBeginning?: boolean;
  /** Called after each retraining (reports, tests). */
  onRetrained?: (outcome: RetrainOutcome, timing: RetrainTiming) => void;
}

/**
 * Consumes drift events; a burst of them triggers one retraining.
 *
 * The handler holds the batch that opens a burst until the burst closes
 * (watching the log's end offset, so events arriving meanwhile join it), then
 * retrains, publishes the model events and only then returns — so the offset
 * commit covers only triggers whose outcome is in the log. Each version
 * records the drift-event offsets it covers; events at or below them
 * (redelivered, or read ahead while a burst gathered) start nothing.
 */
export class RetrainerConsumer {
  readonly #o: RetrainerConsumerOptions;
  readonly #options: ResolvedRetrainerOptions;
  readonly #topics: TopicNames;
  readonly #logger: Logger;
  readonly #metrics: PipelineMetrics | undefined;
  readonly #coverage = new Coverage();
  readonly #out: RetrainerOutputs;
  #subscription: Subscription | undefined;
  readonly #turns: Turns;
  #burstOpen = false;
  #episode: Episode | null = null;
  #followUpDue = false;
  #following: Promise<void> | undefined;
  #stopped = false;
  readonly outcomes: RetrainOutcome[];
  /** Device calibrations this process published, in order (reports, tests). */
  readonly calibrations: CalibrationNote[];
  /** Each followed device's calibration as this process last knew it (published, or seen on its vectors). */
  readonly #frames = new Map<string, DeviceFrame | null>();

  constructor(options: RetrainerConsumerOptions) {
    this.#o = options;
    this.#options = resolveRetrainerOptions(options);
    this.#topics = options.topics ?? TOPICS;
    this.#logger = (options.logger ?? silentLogger).child({ component: COMPONENT });
    this.#metrics = options.metrics;
    this.#turns = new Turns(this.#logger);
    this.#out = new RetrainerOutputs({
      deadLetterTopic: this.#topics.deadLetter,
      logger: this.#logger,
      metrics: this.#metrics,
      onRetrained: options.onRetrained,
    });
    this.outcomes = this.#out.outcomes;
    this.calibrations = this.#out.calibrations;
  }

  async start(): Promise<void> {
    this.#out.producer = await this.#o.transport.producer();
    this.#subscription = await this.#o.transport.subscribe({
      groupId: this.#o.groupId ?? 'activity-tracking-retrainer',
      topics: [this.#topics.driftEvents],
      maxBatchSize: 1000,
      fromBeginning: this.#o.fromBeginning ?? true,
      onAssigned: () => this.#coverage.load(this.#o.backend.registry, this.#options.model),
      handler: (batch, context) => this.#handle(batch, context),
    });
    this.#stopped = false;
    this.#following = this.#follow();
  }

  /** True while a burst gathers, a retraining runs, or a follow-up retraining is due. */
  get busy(): boolean {
    return this.#burstOpen || this.#followUpDue;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#following;
    this.#following = undefined;
    await this.#subscription?.stop();
    await this.#out.producer?.close();
    this.#subscription = undefined;
    this.#out.producer = undefined;
  }

  /**
   * A redelivered batch whose triggers a version already covers: publish that
   * version's model events again (same ids) in case a crash came between
   * registering it and publishing them. Downstream deduplicates by id.
   */
  async #republish(batch: RecordBatch): Promise<void> {
    const first = batch.records[0].offset;
    const last = batch.records[batch.records.length - 1].offset;
    const due = this.#coverage.unconfirmed(batch.partition, first, last);
    if (due.length === 0) return;
    for (const u of due) {
      const outcome = await retrain(this.#deps(), {
        key: u.key,
        trigger: [],
        postDrift: { ranges: [], devices: new Set() },
        covers: {},
      });
      await this.#out.publish(outcome.events);
    }
    this.#coverage.confirm(due);
  }

  #deps() {
    return {
      transport: this.#o.transport,
      backend: this.#o.backend,
      topics: this.#topics,
      trainer: this.#o.trainer,
      options: this.#options,
      logger: this.#logger,
    };
  }

  /** One batch of drift events; a burst's batch holds its retraining, so its time includes it. */
  async #handle(batch: RecordBatch, context: BatchContext): Promise<void> {
    const started = performance.now();
    await this.#handleBatch(batch, context);
    const metrics = this.#metrics;
    if (!metrics) return;
    metrics.recordsIn.inc({ component: COMPONENT, topic: batch.topic }, batch.records.length);
    metrics.consumerLag.set(
      { component: COMPONENT, topic: batch.topic, partition: String(batch.partition) },
      Math.max(0, batch.highWatermark - batch.records[batch.records.length - 1].offset - 1),
    );
    metrics.batchSeconds.observe({ component: COMPONENT }, (performance.now() - started) / 1000);
  }

  async #handleBatch(batch: RecordBatch, context: BatchContext): Promise<void> {
    const covered = this.#coverage.of(batch.partition);
    await this.#republish(batch);
    const fresh = batch.records.filter((r) => r.offset > covered);
    if (fresh.length === 0) return;
    if (await this.#fold(fresh)) {
      this.#coverage.set(batch.partition, Math.max(covered, fresh[fresh.length - 1].offset));
      return;
    }
    this.#burstOpen = true;
    try {
      await this.#handleBurst(batch, context, fresh, covered);
    } finally {
      this.#burstOpen = false;
    }
  }

  async #handleBurst(batch: RecordBatch, context: BatchContext, fresh: RecordBatch['records'], covered: number) {
    const { transport } = this.#o;
    const topic = this.#topics.driftEvents;
    const clock = this.#o.clock ?? realClock;
    const requestedAt = Date.now();
    let end = fresh[fresh.length - 1].offset + 1;
    const closed = await awaitBurstEnd(
      clock.now(),
      this.#options,
      async () => {
        await context.heartbeat();
        const now = (await transport.endOffsets(topic))[batch.partition] ?? end;
        const grew = now - end;
        end = Math.max(end, now);
        return grew;
      },
      clock,
      () => context.stopping,
    );
    if (closed === 'stopping')
      throw new StoppingError('retrainer stopping with a burst open: left uncommitted for redelivery');
    const records =
      end - 1 > batch.records[batch.records.length - 1].offset
        ? [
            ...fresh,
            ...(await transport.readRange(
              topic,
              batch.partition,
              batch.records[batch.records.length - 1].offset + 1,
              end - 1,
            )),
          ]
        : fresh;
    const events: { id: string; data: DriftEvent }[] = [];
    const dead: OutgoingRecord[] = [];
    for (const record of records) {
      try {
        const e = decodeEvent(record.headers, record.value, { accept: [EVENT_TYPES.drift] });
        events.push({ id: e.attributes.id, data: e.data });
      } catch (err) {
        // Dead-letter only what this batch owns; records read ahead get theirs when their batch comes.
        if (record.offset <= batch.records[batch.records.length - 1].offset)
          dead.push(this.#out.deadLetter(record, err));
      }
    }
    const lastOffset = records[records.length - 1].offset;
    if (events.length > 0) {
      const ends = await transport.endOffsets(this.#topics.features);
      const burst = postDriftRanges(
        events.map((e) => e.data),
        ends,
      );
      const key = `drift:${topic}:${batch.partition}:${records[0].offset}`;
      // The new version serves every phone: it trains on every phone still drifting, not just this burst's.
      const episode = this.#openEpisode(key, burst, ends);
      const outcome = await this.#turns.run(
        () =>
          this.#adapt(
            episode,
            { key, trigger: events.map((e) => e.id), covers: { [batch.partition]: lastOffset } },
            requestedAt,
          ),
        context,
      );
      this.#out.retrained(outcome, { trigger: 'drift', requestedAt, finishedAt: Date.now() });
      dead.push(...outcome.events);
    }
    await this.#out.publish(dead);
    this.#coverage.set(batch.partition, Math.max(covered, lastOffset));
  }

  /**
   * One adaptation of the episode: first each drifted device's calibration is fitted again and, where
   * it moved, published (docs/calibration.md); then the retraining, on the post-drift vectors made
   * under each device's calibration from now on. A calibration's id is the retraining's key plus the
   * device, so a repeat after a crash publishes the same record, which the featurizer applies once.
   */
  async #adapt(
    episode: Episode,
    request: Omit<RetrainRequest, 'postDrift'>,
    requestedAt: number,
  ): Promise<RetrainOutcome> {
    const calibrations = this.#options.calibrate ? await this.#calibrate(episode, request.key, requestedAt) : undefined;
    const ends = await this.#o.transport.endOffsets(this.#topics.features);
    return retrain(this.#deps(), {
      ...request,
      postDrift: { ranges: episodeRanges(episode.from, ends), devices: episode.devices, calibrations },
    });
  }

  /**
   * Fits each followed device's calibration again and publishes those that moved (docs/calibration.md);
   * returns each device's calibration from now on. Ids are the device plus `key`.
   */
  async #calibrate(episode: Episode, key: string, requestedAt: number): Promise<Map<string, string | null>> {
    const step = await calibrateDevices(
      this.#o.transport,
      this.#topics,
      { key, starts: episode.starts, detections: episode.detections },
      this.#frames,
      this.#options,
    );
    await this.#out.calibrated(step, requestedAt);
    for (const [device, frame] of step.frames) this.#frames.set(device, frame);
    if (step.skipped.size > 0) this.#logger.debug({ skipped: Object.fromEntries(step.skipped) }, 'no new calibration');
    return step.current;
  }

  /**
   * Drift events of devices the open episode already follows (more features or activities of the same
   * drift, seen as the phones go on) start no retraining of their own: they widen the episode, whose next
   * follow-up trains on them. Returns false when the batch holds a new drift (a burst to gather).
   */
  async #fold(fresh: RecordBatch['records']): Promise<boolean> {
    const e = this.#episode;
    if (!e || e.followUps >= this.#options.followUps) return false;
    const events: DriftEvent[] = [];
    // Dead-lettered (and counted) only when folded: a batch that opens a burst dead-letters them there.
    const undecodable: [RecordBatch['records'][number], unknown][] = [];
    for (const record of fresh) {
      try {
        events.push(decodeEvent(record.headers, record.value, { accept: [EVENT_TYPES.drift] }).data);
      } catch (err) {
        undecodable.push([record, err]);
      }
    }
    // Concept drift (the serving model's error rate rose) asks for a retraining now, followed phone or not.
    if (!events.every((d) => d.kind === 'data' && e.devices.has(d.device))) return false;
    const ends = await this.#o.transport.endOffsets(this.#topics.features);
    const burst = postDriftRanges(events, ends);
    foldIntoEpisode(e, burst);
    await this.#out.publish(undecodable.map(([record, err]) => this.#out.deadLetter(record, err)));
    this.#logger.debug({ events: events.length, episode: e.key }, 'drift of followed devices: folded into the episode');
    return true;
  }

  /**
   * A drift retraining opens the episode that follow-ups retrain on as its data grows, or widens the
   * open one (follow-ups left) with the burst's devices and ranges.
   */
  #openEpisode(key: string, burst: PostDriftBurst, ends: number[]): Episode {
    const open = this.#episode && this.#episode.followUps < this.#options.followUps ? this.#episode : null;
    this.#episode = openEpisode(open, key, burst, ends);
    return this.#episode;
  }

  /**
   * Follow-up retrainings (docs/retraining.md): one retraining right after a
   * drift sees only the first post-drift windows, and activities the drifted
   * phones have not done since are still scored the old way. Each time the
   * post-drift data has grown by `growthFactor`, the episode is retrained on
   * all of it; each new version still has to pass the gate.
   */
  async #follow(): Promise<void> {
    const { followUps, growthFactor } = this.#options;
    while (!this.#stopped) {
      await new Promise((r) => setTimeout(r, this.#options.pollMs));
      const e = this.#episode;
      if (!e || this.#burstOpen) continue;
      try {
        const ends = await this.#o.transport.endOffsets(this.#topics.features);
        const records = episodeRecords(e.from, ends);
        if (this.#options.calibrate && records >= e.calibratedAt + this.#options.calibrationStep) {
          // Between retrainings, calibrations follow the phones' new activities on their own, cheaper step:
          // a second posture tells the turn about gravity that one activity leaves open.
          e.calibratedAt = records;
          const at = Date.now();
          await this.#turns.run(() => this.#calibrate(e, `cal:${e.key}:${records}`, at));
        }
        if (e.followUps >= followUps) continue;
        const step = Math.min(this.#options.maxGrowthStep, e.records * (growthFactor - 1));
        if (records < e.records + step || records < this.#options.minPostDrift) continue;
        this.#followUpDue = true;
        const requestedAt = Date.now();
        const n = e.followUps + 1;
        const outcome = await this.#turns.run(() =>
          this.#adapt(e, { key: `grow:${e.key}:${n}:${records}`, trigger: [], covers: {} }, requestedAt),
        );
        await this.#out.publish(outcome.events);
        if (this.#episode === e) {
          e.records = records;
          // A retraining that found too little labelled data does not use up the episode's follow-ups.
          if (outcome.status !== 'not-enough-data') e.followUps = n;
        }
        this.#out.retrained(outcome, { trigger: 'growth', requestedAt, finishedAt: Date.now() });
      } catch (err) {
        this.#logger.error({ err }, 'follow-up failed; it is tried again as data grows');
        if (this.#episode === e) e.records = Math.max(e.records, 1) * growthFactor;
      } finally {
        this.#followUpDue = false;
      }
    }
  }
}
