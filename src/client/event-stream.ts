import { InvalidOptionError, StoppingError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { DecodeError, decodeEvent } from '../schemas/cloudevents.ts';
import type { EventDataMap, EventType } from '../schemas/registry.ts';
import type { BatchContext, ConsumedRecord, RecordBatch, Subscription, Transport } from '../transport/types.ts';
import type { InvalidRecord, ReceivedEvent, SubscribeEventsOptions } from './types.ts';

interface Pull<E> {
  resolve(result: IteratorResult<E, undefined>): void;
  reject(err: unknown): void;
}

const DONE: IteratorResult<never, undefined> = { value: undefined, done: true };

/**
 * One topic's events as an async iterator, on top of `transport.subscribe`, committing a record only after
 * its loop body finished: the batch handler hands the records over one at a time, each only once the
 * iterator asked for the next one (`next()`), and resolves, so that the transport commits the batch, only
 * when `next()` came after the batch's last record. The handler waits for the loop instead of buffering:
 * nothing piles up, and a process that dies mid-loop gets its uncommitted records again.
 *
 * `return()` (a `break`, or a throw in the loop body, which makes `for await` call it) commits the records
 * before the current one (`context.commit`: an offset commit on Kafka, a checkpoint at that event on
 * Event Hubs), gives the rest of the batch back uncommitted and stops the subscription: the current record
 * and those after it are redelivered to the group's next subscriber, never one the loop finished. A
 * process that dies instead commits nothing more: its successor gets everything after the last commit.
 */
export class EventStream<T extends EventType> implements AsyncIterableIterator<ReceivedEvent<EventDataMap[T]>> {
  readonly #transport: Transport;
  readonly #topic: string;
  readonly #accept: readonly T[];
  readonly #options: SubscribeEventsOptions;
  readonly #logger: Logger;
  readonly #onEnd: (stream: EventStream<T>) => void;
  #started: Promise<void> | undefined;
  #subscription: Subscription | undefined;
  #stopped: Promise<void> | undefined;
  /** Resolves once `subscription.stop()` was called: a handler gives its batch back only after that. */
  readonly #stopCalled: Promise<void>;
  #markStopCalled!: () => void;
  #ended = false;
  /** A batch handler is running (it may hold records the loop finished, to commit before the stop). */
  #active = false;
  /** Resolves once the running handler committed what the loop finished, after the stream ended. */
  #handedBack: Promise<void> = Promise.resolve();
  #markHandedBack: () => void = () => {};
  #failure: { error: unknown } | undefined;
  /** The loop's pending `next()`, which the handler fulfils with the next event. */
  #pull: Pull<ReceivedEvent<EventDataMap[T]>> | undefined;
  /** Wakes a handler waiting for the loop to ask for the next event (or to end). */
  #wake: (() => void) | undefined;

  constructor(
    transport: Transport,
    topic: string,
    type: T,
    options: SubscribeEventsOptions,
    logger: Logger,
    onEnd: (stream: EventStream<T>) => void,
  ) {
    if (typeof options?.group !== 'string' || options.group.length === 0)
      throw new InvalidOptionError('subscribe needs a consumer group: { group: "my-service" }');
    this.#transport = transport;
    this.#topic = topic;
    this.#accept = [type];
    this.#options = options;
    this.#logger = logger;
    this.#onEnd = onEnd;
    this.#stopCalled = new Promise((resolve) => {
      this.#markStopCalled = resolve;
    });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<ReceivedEvent<EventDataMap[T]>, undefined>> {
    if (this.#failure) {
      const { error } = this.#failure;
      this.#failure = undefined;
      throw error;
    }
    if (this.#ended) return DONE;
    if (this.#pull)
      throw new InvalidOptionError('next() was called again before the previous call resolved; read with for await');
    const pulled = new Promise<IteratorResult<ReceivedEvent<EventDataMap[T]>, undefined>>((resolve, reject) => {
      this.#pull = { resolve, reject };
    });
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
    this.#started ??= this.#start();
    await this.#started;
    return pulled;
  }

  /** Stops the subscription; records not yet finished are redelivered. */
  async return(): Promise<IteratorResult<ReceivedEvent<EventDataMap[T]>, undefined>> {
    this.#end();
    await this.#stopped;
    return DONE;
  }

  async #start(): Promise<void> {
    try {
      this.#subscription = await this.#transport.subscribe({
        groupId: this.#options.group,
        topics: [this.#topic],
        fromBeginning: this.#options.fromBeginning ?? true,
        handler: async (batch, context) => {
          this.#active = true;
          try {
            await this.#handle(batch, context);
          } finally {
            this.#active = false;
            this.#markHandedBack();
          }
        },
      });
    } catch (err) {
      this.#pull = undefined;
      this.#ended = true;
      this.#onEnd(this);
      throw err;
    }
  }

  /** Ends the stream (with `failure`, which the next `next()` rejects with) and starts stopping the subscription. */
  #end(failure?: { error: unknown }): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#handedBack = new Promise((resolve) => {
      this.#markHandedBack = resolve;
    });
    const pull = this.#pull;
    this.#pull = undefined;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
    this.#stopped = this.#stop();
    if (!failure) pull?.resolve(DONE);
    // The loop hears of the failure once the subscription stopped, its finished records committed.
    else if (pull) void this.#stopped.finally(() => pull.reject(failure.error)).catch(() => {});
    else this.#failure = failure;
  }

  async #stop(): Promise<void> {
    try {
      await this.#started;
      // kafkajs drops a commit made once its consumer stops running: the finished records go first.
      if (this.#active) await this.#handedBack;
      const stopping = this.#subscription?.stop();
      this.#markStopCalled();
      await stopping;
    } catch (err) {
      // A subscription that never started has nothing to stop; next() reported why.
      if (this.#subscription) throw err;
    } finally {
      this.#markStopCalled();
      this.#onEnd(this);
    }
  }

  async #handle(batch: RecordBatch, context: BatchContext): Promise<void> {
    const records = batch.records;
    // The record handed over last, whose loop body may still run; the ones before it are finished.
    let current = -1;
    for (let i = 0; i < records.length; i++) {
      // Each record waits for the loop to finish the one before: onInvalid runs in the loop's order too.
      if (!this.#pull && !this.#ended) await this.#nextPull(context);
      if (this.#ended) return this.#giveBack(batch, context, Math.max(current, 0));
      const record = records[i];
      let event: ReceivedEvent<EventDataMap[T]>;
      try {
        event = this.#decode(record);
      } catch (err) {
        try {
          if (!(err instanceof DecodeError)) throw err;
          await this.#invalid(record, err);
          continue;
        } catch (failure) {
          this.#end({ error: failure });
          return this.#giveBack(batch, context, i);
        }
      }
      const pull = this.#pull!;
      this.#pull = undefined;
      current = i;
      pull.resolve({ value: event, done: false });
    }
    // The batch is committed when this resolves: only once the loop asked for the record after its last.
    if (!this.#pull && !this.#ended) await this.#nextPull(context);
    if (this.#ended) return this.#giveBack(batch, context, Math.max(current, 0));
  }

  async #nextPull(context: BatchContext): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
    // The loop body took a while: a log with a session (Kafka) must hear from this member.
    if (!this.#ended) await context.heartbeat();
  }

  /**
   * Commits the batch's first `finished` records (where the log can commit part of a batch) and hands the
   * rest back for redelivery.
   */
  async #giveBack(batch: RecordBatch, context: BatchContext, finished: number): Promise<never> {
    if (finished > 0 && context.commit) {
      const offset = batch.records[finished - 1].offset;
      try {
        await context.commit(offset);
      } catch (err) {
        this.#logger.warn(
          { err, topic: batch.topic, partition: batch.partition, offset },
          'committing the finished records on stop failed; they are delivered again',
        );
      }
    }
    this.#markHandedBack();
    // The transports take a StoppingError for a batch given back only once their stop has begun.
    await this.#stopCalled;
    throw new StoppingError('the subscriber stopped; its unfinished records are delivered again', {
      context: { topic: batch.topic, partition: batch.partition },
    });
  }

  #decode(record: ConsumedRecord): ReceivedEvent<EventDataMap[T]> {
    const { data, attributes } = decodeEvent(record.headers, record.value, { accept: this.#accept });
    const event: ReceivedEvent<EventDataMap[T]> = {
      data: data as EventDataMap[T],
      id: attributes.id,
      time: attributes.time,
      type: attributes.type,
      source: attributes.source,
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
    };
    if (attributes.subject !== undefined) event.subject = attributes.subject;
    return event;
  }

  async #invalid(record: ConsumedRecord, error: DecodeError): Promise<void> {
    const invalid: InvalidRecord = {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      key: record.key,
      error,
    };
    if (this.#options.onInvalid) await this.#options.onInvalid(invalid);
    else
      this.#logger.warn(
        { err: error, reason: error.reason, topic: record.topic, partition: record.partition, offset: record.offset },
        'record skipped: it does not decode',
      );
  }
}
