import type { OutgoingRecord, Producer } from '../transport/types.ts';

interface Waiting {
  record: OutgoingRecord;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Publishes single records through at most `concurrency` publishes at a time; records that arrive while
 * they are all busy go together in the next one (group commit). At low load a record is published at
 * once, alone; under load one broker round trip acknowledges many phones' batches, which is what lets
 * thousands of phones share one producer. The queue is bounded by the gateway's admission, not here.
 *
 * A coalesced publish succeeds or fails as a whole (the port's `publish` is all-or-nothing): every
 * record of a failed one is refused and its client retries with its Idempotency-Key.
 */
export class CoalescingPublisher {
  readonly #producer: Producer;
  readonly #concurrency: number;
  readonly #maxBatchBytes: number;
  #queue: Waiting[] = [];
  #active = 0;

  constructor(producer: Producer, options: { concurrency: number; maxBatchBytes: number }) {
    this.#producer = producer;
    this.#concurrency = options.concurrency;
    this.#maxBatchBytes = options.maxBatchBytes;
  }

  /** Resolves once the log acknowledged the record. */
  publish(record: OutgoingRecord): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ record, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#active < this.#concurrency && this.#queue.length > 0) {
      let bytes = 0;
      let n = 0;
      const queue = this.#queue;
      // At least one record; then as many as fit in the byte budget.
      do bytes += queue[n++].record.value.length;
      while (n < queue.length && bytes + queue[n].record.value.length <= this.#maxBatchBytes);
      const batch = n === queue.length ? queue : queue.slice(0, n);
      this.#queue = n === queue.length ? [] : queue.slice(n);
      this.#active++;
      const records = new Array<OutgoingRecord>(batch.length);
      for (let i = 0; i < batch.length; i++) records[i] = batch[i].record;
      this.#producer.publish(records).then(
        () => {
          for (const w of batch) w.resolve();
          this.#done();
        },
        (err: unknown) => {
          for (const w of batch) w.reject(err);
          this.#done();
        },
      );
    }
  }

  #done(): void {
    this.#active--;
    this.#pump();
  }
}
