import { ActivityTrackingError } from '../../src/errors.ts';
import { type Logger, silentLogger } from '../../src/log/logger.ts';
import type { PipelineMetrics } from '../../src/metrics/metrics.ts';
import { deadLetter } from '../../src/pipeline/dead-letter.ts';
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
import { postDriftRanges } from './dataset.ts';
import { type ResolvedRetrainerOptions, type RetrainerOptions, resolveRetrainerOptions } from './options.ts';
import { COMPONENT, type RetrainOutcome, retrain, type Scorer, TAGS, type Trainer } from './retrain.ts';

export interface RetrainerConsumerOptions extends RetrainerOptions {
  transport: Transport;
  backend: TrackingBackend;
  trainer: Trainer;
  scorer: Scorer;
  /** @defaultValue 'activity-tracking-retrainer' */
  groupId?: string;
  topics?: TopicNames;
  logger?: Logger;
  metrics?: PipelineMetrics;
  clock?: BurstClock;
  /** Where a new group starts on the drift topic. @defaultValue true */
  fromBeginning?: boolean;
  /** Called after each retraining (reports, tests). */
  onRetrained?: (outcome: RetrainOutcome) => void;
}

class Stopping extends ActivityTrackingError {
  constructor() {
    super('SERVICE_UNAVAILABLE', 'retrainer stopping with a burst open: left uncommitted for redelivery', {
      retriable: true,
    });
  }
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
  /** Highest drift-event offset per partition already covered by a version. */
  #covered = new Map<number, number>();
  /** Versions found in the registry whose model events this process has not published (a crash may have cut them off). */
  #unconfirmed: { key: string; partition: number; from: number; to: number }[] = [];
  #producer: Producer | undefined;
  #subscription: Subscription | undefined;
  readonly outcomes: RetrainOutcome[] = [];

  constructor(options: RetrainerConsumerOptions) {
    this.#o = options;
    this.#options = resolveRetrainerOptions(options);
    this.#topics = options.topics ?? TOPICS;
    this.#logger = (options.logger ?? silentLogger).child({ component: COMPONENT });
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
  }

  async stop(): Promise<void> {
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
      if (outcome.events.length > 0) await this.#producer!.publish(outcome.events);
    }
    this.#unconfirmed = this.#unconfirmed.filter((u) => !due.includes(u));
  }

  #deps() {
    return {
      transport: this.#o.transport,
      backend: this.#o.backend,
      topics: this.#topics,
      trainer: this.#o.trainer,
      scorer: this.#o.scorer,
      options: this.#options,
      logger: this.#logger,
    };
  }

  async #handle(batch: RecordBatch, context: BatchContext): Promise<void> {
    const covered = this.#covered.get(batch.partition) ?? -1;
    await this.#republish(batch);
    const fresh = batch.records.filter((r) => r.offset > covered);
    if (fresh.length === 0) return;
    const { transport } = this.#o;
    const topic = this.#topics.driftEvents;
    const clock = this.#o.clock ?? realClock;
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
    if (closed === 'stopping') throw new Stopping();
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
          dead.push(deadLetter(COMPONENT, record, err, this.#topics.deadLetter));
      }
    }
    const lastOffset = records[records.length - 1].offset;
    if (events.length > 0) {
      const ends = await transport.endOffsets(this.#topics.features);
      const postDrift = postDriftRanges(
        events.map((e) => e.data),
        ends,
      );
      const outcome = await retrain(this.#deps(), {
        key: `drift:${topic}:${batch.partition}:${records[0].offset}`,
        trigger: events.map((e) => e.id),
        postDrift,
        covers: { [batch.partition]: lastOffset },
      });
      this.outcomes.push(outcome);
      this.#o.onRetrained?.(outcome);
      dead.push(...outcome.events);
    }
    if (dead.length > 0) await this.#producer!.publish(dead);
    this.#covered.set(batch.partition, Math.max(covered, lastOffset));
  }
}
