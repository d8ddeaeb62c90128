import { performance } from 'node:perf_hooks';
import { StoppingError } from '../../src/errors.ts';
import { type Logger, silentLogger } from '../../src/log/logger.ts';
import type { PipelineMetrics } from '../../src/metrics/metrics.ts';
import { deadLetter, reasonOf } from '../../src/pipeline/dead-letter.ts';
import { decodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { DriftEvent } from '../../src/schemas/types.gen.ts';
import { TOPICS, type TopicNames } from '../../src/topics.ts';
import type { TrackingBackend } from '../../src/tracking/types.ts';
import type {
  BatchContext,
  OutgoingRecord,
  Producer,
  RecordBatch,
  Subscription,
  Transport,
} from '../../src/transport/types.ts';
import { awaitBurstEnd, type BurstClock, realClock } from './burst.ts';
import { calibrateDevices, type DeviceFrame } from './calibrate.ts';
import { type DeviceStart, type OffsetRange, type PostDriftBurst, postDriftRanges } from './dataset.ts';
import { type ResolvedRetrainerOptions, type RetrainerOptions, resolveRetrainerOptions } from './options.ts';
import { COMPONENT, type RetrainOutcome, type RetrainRequest, retrain, TAGS, type Trainer } from './retrain.ts';

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

/** When a retraining was asked for and when its outcome was stored (epoch ms, wall clock). */
export interface RetrainTiming {
  trigger: 'drift' | 'growth';
  /** The burst's first drift event was consumed, or the post-drift data reached its growth step. */
  requestedAt: number;
  finishedAt: number;
}

/** A calibration the retrainer published: which device, what was fitted, and when (epoch ms). */
export interface CalibrationNote {
  device: string;
  id: string;
  model: string;
  degrees: number;
  offsetNorm: number;
  activities: string[];
  /** When the burst's first drift event was consumed, or the growth step reached. */
  requestedAt: number;
  at: number;
}

/** The drift being followed: its post-drift ranges grow, and retraining repeats as they do. */
interface Episode {
  /** Key of the drift retraining that opened it. */
  key: string;
  /** Post-drift start per partition of the features topic. */
  from: Map<number, number>;
  devices: Set<string>;
  /** Each device's own post-drift start: its calibration compares what it sent before and after it. */
  starts: Map<string, DeviceStart>;
  /** Per device and activity, where its drift was first detected (docs/calibration.md). */
  detections: Map<string, number>;
  /** Records in the post-drift ranges at the last calibration check. */
  calibratedAt: number;
  /** Records in the post-drift ranges at the last retraining. */
  records: number;
  followUps: number;
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
/** How often a batch that trains heartbeats: kafkajs sends one at most every heartbeatInterval anyway. */
const HEARTBEAT_MS = 1000;

export class RetrainerConsumer {
  readonly #o: RetrainerConsumerOptions;
  readonly #options: ResolvedRetrainerOptions;
  readonly #topics: TopicNames;
  readonly #logger: Logger;
  readonly #metrics: PipelineMetrics | undefined;
  /** Highest drift-event offset per partition already covered by a version. */
  #covered = new Map<number, number>();
  /** Versions found in the registry whose model events this process has not published (a crash may have cut them off). */
  #unconfirmed: { key: string; partition: number; from: number; to: number }[] = [];
  #producer: Producer | undefined;
  #subscription: Subscription | undefined;
  /** One retraining at a time: drift bursts and follow-ups take turns. */
  #turn: Promise<unknown> = Promise.resolve();
  #burstOpen = false;
  #episode: Episode | null = null;
  #followUpDue = false;
  #following: Promise<void> | undefined;
  #stopped = false;
  readonly outcomes: RetrainOutcome[] = [];
  /** Device calibrations this process published, in order (reports, tests). */
  readonly calibrations: CalibrationNote[] = [];
  /** Each followed device's calibration as this process last knew it (published, or seen on its vectors). */
  readonly #frames = new Map<string, DeviceFrame | null>();

  constructor(options: RetrainerConsumerOptions) {
    this.#o = options;
    this.#options = resolveRetrainerOptions(options);
    this.#topics = options.topics ?? TOPICS;
    this.#logger = (options.logger ?? silentLogger).child({ component: COMPONENT });
    this.#metrics = options.metrics;
    // Starts at 0 (a series before the first calibration, or with calibration off); retrainings appear with their labels.
    this.#metrics?.calibrations.inc({ component: COMPONENT }, 0);
  }

  async start(): Promise<void> {
    this.#producer = await this.#o.transport.producer();
    this.#subscription = await this.#o.transport.subscribe({
      groupId: this.#o.groupId ?? 'activity-tracking-retrainer',
      topics: [this.#topics.driftEvents],
      maxBatchSize: 1000,
      fromBeginning: this.#o.fromBeginning ?? true,
      onAssigned: () => this.#loadCovered(),
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
    await this.#producer?.close();
    this.#subscription = undefined;
    this.#producer = undefined;
  }

  /** The registry remembers what was retrained: that survives restarts and other instances. */
  async #loadCovered(): Promise<void> {
    await this.#o.backend.registry.ensureModel(this.#options.model);
    for (const v of await this.#o.backend.registry.listVersions(this.#options.model)) {
      const covers = JSON.parse(v.tags[TAGS.covers] ?? '{}') as Record<string, number>;
      for (const [p, offset] of Object.entries(covers)) {
        this.#covered.set(Number(p), Math.max(this.#covered.get(Number(p)) ?? -1, offset));
        const key = v.tags[TAGS.key] ?? '';
        const from = Number(key.split(':').pop());
        if (key.startsWith('drift:') && Number.isInteger(from))
          this.#unconfirmed.push({ key, partition: Number(p), from, to: offset });
      }
    }
  }

  /**
   * A redelivered batch whose triggers a version already covers: publish that
   * version's model events again (same ids) in case a crash came between
   * registering it and publishing them. Downstream deduplicates by id.
   */
  async #republish(batch: RecordBatch): Promise<void> {
    const first = batch.records[0].offset;
    const last = batch.records[batch.records.length - 1].offset;
    const due = this.#unconfirmed.filter((u) => u.partition === batch.partition && u.from <= last && u.to >= first);
    if (due.length === 0) return;
    for (const u of due) {
      const outcome = await retrain(this.#deps(), {
        key: u.key,
        trigger: [],
        postDrift: { ranges: [], devices: new Set() },
        covers: {},
      });
      await this.#publish(outcome.events);
    }
    this.#unconfirmed = this.#unconfirmed.filter((u) => !due.includes(u));
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

  /** Publishes `records` and counts them by topic. */
  async #publish(records: OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.#producer!.publish(records);
    if (this.#metrics) for (const r of records) this.#metrics.recordsOut.inc({ component: COMPONENT, topic: r.topic });
  }

  /** A dead letter of this component, counted by reason. */
  #deadLetter(record: RecordBatch['records'][number], err: unknown): OutgoingRecord {
    this.#metrics?.deadLetters.inc({ component: COMPONENT, reason: reasonOf(err) });
    return deadLetter(COMPONENT, record, err, this.#topics.deadLetter);
  }

  /** A retraining's outcome in the metrics and to `onRetrained`. */
  #retrained(outcome: RetrainOutcome, timing: RetrainTiming): void {
    this.outcomes.push(outcome);
    if (this.#metrics) {
      const result =
        outcome.status === 'trained' ? (outcome.promoted ? 'promoted' : 'rejected') : (outcome.status as string);
      this.#metrics.retrainings.inc({ component: COMPONENT, trigger: timing.trigger, outcome: result });
      this.#metrics.retrainingSeconds.observe(
        { component: COMPONENT, trigger: timing.trigger },
        (timing.finishedAt - timing.requestedAt) / 1000,
      );
    }
    this.#o.onRetrained?.(outcome, timing);
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
    const covered = this.#covered.get(batch.partition) ?? -1;
    await this.#republish(batch);
    const fresh = batch.records.filter((r) => r.offset > covered);
    if (fresh.length === 0) return;
    if (await this.#fold(fresh)) {
      this.#covered.set(batch.partition, Math.max(covered, fresh[fresh.length - 1].offset));
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
        if (record.offset <= batch.records[batch.records.length - 1].offset) dead.push(this.#deadLetter(record, err));
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
      const outcome = await this.#inTurn(
        () =>
          this.#adapt(
            episode,
            { key, trigger: events.map((e) => e.id), covers: { [batch.partition]: lastOffset } },
            requestedAt,
          ),
        context,
      );
      this.#retrained(outcome, { trigger: 'drift', requestedAt, finishedAt: Date.now() });
      dead.push(...outcome.events);
    }
    await this.#publish(dead);
    this.#covered.set(batch.partition, Math.max(covered, lastOffset));
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
    await this.#publish(step.records);
    for (const [device, { frame, fit, activities }] of step.published) {
      this.#metrics?.calibrations.inc({ component: COMPONENT });
      const { model, degrees, offsetNorm } = fit;
      this.calibrations.push({
        device,
        id: frame.id,
        model,
        degrees,
        offsetNorm,
        activities,
        requestedAt,
        at: Date.now(),
      });
      this.#logger.info({ device, calibration: frame.id, fit }, 'device calibration published');
    }
    for (const [device, frame] of step.frames) this.#frames.set(device, frame);
    if (step.skipped.size > 0) this.#logger.debug({ skipped: Object.fromEntries(step.skipped) }, 'no new calibration');
    return step.current;
  }

  /** Runs `work` when no other retraining runs; a waiting batch keeps its group membership. */
  async #inTurn<T>(work: () => Promise<T>, context?: BatchContext): Promise<T> {
    const previous = this.#turn;
    let release!: () => void;
    this.#turn = new Promise<void>((r) => {
      release = r;
    });
    try {
      if (context) {
        let waiting = true;
        void previous.finally(() => {
          waiting = false;
        });
        while (waiting) {
          await Promise.race([previous.catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
          if (waiting) await context.heartbeat();
        }
      } else await previous.catch(() => undefined);
      return context ? await this.#beating(work, context) : await work();
    } finally {
      release();
    }
  }

  /**
   * Runs a batch's work while telling the group the member lives: kafkajs heartbeats only between batches
   * and when the handler asks, so a retraining longer than the session timeout (training runs in worker
   * threads, the event loop is free) used to cost the membership, a crash and a rejoin (issue 15).
   * A heartbeat refused (a rebalance) is left to kafkajs, which rejoins once the batch returns.
   */
  async #beating<T>(work: () => Promise<T>, context: BatchContext): Promise<T> {
    const timer = setInterval(() => {
      context.heartbeat().catch((err: unknown) => this.#logger.debug({ err }, 'heartbeat during a retraining refused'));
    }, HEARTBEAT_MS);
    try {
      return await work();
    } finally {
      clearInterval(timer);
    }
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
    widen(e.from, burst.ranges);
    mergeStarts(e.starts, burst.starts);
    mergeMin(e.detections, burst.detections);
    await this.#publish(undecodable.map(([record, err]) => this.#deadLetter(record, err)));
    this.#logger.debug({ events: events.length, episode: e.key }, 'drift of followed devices: folded into the episode');
    return true;
  }

  /**
   * A drift retraining opens the episode that follow-ups retrain on as its data grows, or widens the
   * open one (follow-ups left) with the burst's devices and ranges.
   */
  #openEpisode(key: string, burst: PostDriftBurst, ends: number[]): Episode {
    const { ranges, devices } = burst;
    const open = this.#episode && this.#episode.followUps < this.#options.followUps ? this.#episode : null;
    const from = widen(new Map(open?.from ?? []), ranges);
    const starts = mergeStarts(new Map(open?.starts ?? []), burst.starts);
    this.#episode = {
      key,
      from,
      devices: new Set([...(open?.devices ?? []), ...devices]),
      starts,
      detections: mergeMin(new Map(open?.detections ?? []), burst.detections),
      calibratedAt: 0,
      records: episodeRecords(from, ends),
      followUps: 0,
    };
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
          await this.#inTurn(() => this.#calibrate(e, `cal:${e.key}:${records}`, at));
        }
        if (e.followUps >= followUps) continue;
        const step = Math.min(this.#options.maxGrowthStep, e.records * (growthFactor - 1));
        if (records < e.records + step || records < this.#options.minPostDrift) continue;
        this.#followUpDue = true;
        const requestedAt = Date.now();
        const n = e.followUps + 1;
        const outcome = await this.#inTurn(() =>
          this.#adapt(e, { key: `grow:${e.key}:${n}:${records}`, trigger: [], covers: {} }, requestedAt),
        );
        await this.#publish(outcome.events);
        if (this.#episode === e) {
          e.records = records;
          // A retraining that found too little labelled data does not use up the episode's follow-ups.
          if (outcome.status !== 'not-enough-data') e.followUps = n;
        }
        this.#retrained(outcome, { trigger: 'growth', requestedAt, finishedAt: Date.now() });
      } catch (err) {
        this.#logger.error({ err }, 'follow-up failed; it is tried again as data grows');
        if (this.#episode === e) e.records = Math.max(e.records, 1) * growthFactor;
      } finally {
        this.#followUpDue = false;
      }
    }
  }
}

/** The episode's post-drift ranges up to the topic's current ends (partitions with no record yet left out). */
function episodeRanges(from: ReadonlyMap<number, number>, ends: readonly number[]): OffsetRange[] {
  return [...from]
    .map(([partition, fromOffset]) => ({ partition, fromOffset, toOffset: (ends[partition] ?? 0) - 1 }))
    .filter((r) => r.toOffset >= r.fromOffset);
}

/** Moves each partition's post-drift start back to the earliest of `ranges`; returns `from`. */
function widen(from: Map<number, number>, ranges: readonly OffsetRange[]): Map<number, number> {
  for (const r of ranges) from.set(r.partition, Math.min(from.get(r.partition) ?? r.fromOffset, r.fromOffset));
  return from;
}

/** Keeps the smaller offset per key; returns `into`. */
function mergeMin(into: Map<string, number>, more: ReadonlyMap<string, number>): Map<string, number> {
  for (const [key, offset] of more) into.set(key, Math.min(into.get(key) ?? offset, offset));
  return into;
}

/** Keeps each device's earliest post-drift start; returns `into`. */
function mergeStarts(into: Map<string, DeviceStart>, more: ReadonlyMap<string, DeviceStart>): Map<string, DeviceStart> {
  for (const [device, s] of more) {
    const had = into.get(device);
    if (!had || s.offset < had.offset) into.set(device, s);
  }
  return into;
}

/** Records from each partition's post-drift start to its end: how far the episode's data has grown. */
function episodeRecords(from: ReadonlyMap<number, number>, ends: readonly number[]): number {
  let n = 0;
  for (const [partition, offset] of from) n += Math.max(0, (ends[partition] ?? 0) - offset);
  return n;
}
