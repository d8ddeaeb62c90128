/**
 * Bounds the batches (and their body bytes) between admission and broker acknowledgement. A request
 * beyond either bound is refused at once (429) rather than queued: a queue would only move the
 * unbounded memory from the producer into the gateway when the broker falls behind.
 */
export class InFlightGate {
  readonly #maxCount: number;
  readonly #maxBytes: number;
  #count = 0;
  #bytes = 0;
  #idle: (() => void)[] = [];
  #room: (() => void)[] = [];

  constructor(maxCount: number, maxBytes: number) {
    this.#maxCount = maxCount;
    this.#maxBytes = maxBytes;
  }

  get count(): number {
    return this.#count;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Admits a batch of `bytes` (its declared or largest size); false when a bound would be passed. */
  tryAcquire(bytes: number): boolean {
    if (this.#count >= this.#maxCount || this.#bytes + bytes > this.#maxBytes) return false;
    this.#count++;
    this.#bytes += bytes;
    return true;
  }

  /** Corrects an admitted batch's size once its body is read (a body of unknown length was counted at the limit). */
  resize(from: number, to: number): void {
    this.#bytes += to - from;
  }

  release(bytes: number): void {
    this.#count--;
    this.#bytes -= bytes;
    if (this.#room.length > 0) for (const resolve of this.#room.splice(0)) resolve();
    if (this.#count === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** Resolves at the next release: a paused WebSocket tries its admission again then. */
  room(): Promise<void> {
    return new Promise((resolve) => this.#room.push(resolve));
  }

  /** Resolves once nothing is in flight. */
  idle(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}
