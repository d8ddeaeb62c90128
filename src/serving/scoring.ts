import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Classifier } from '../model/types.ts';

type Rows = readonly (readonly number[] | Float64Array)[];

/**
 * Class probabilities for `rows`, `sliceRows` at a time with a turn of the
 * event loop between slices, so probes and small requests are answered while
 * a big batch is scored (STYLE habit 7). `signal` is read between slices: a
 * client that hung up stops costing CPU, and its reason is thrown.
 */
export async function predictInSlices(
  classifier: Classifier,
  rows: Rows,
  sliceRows: number,
  signal?: AbortSignal,
): Promise<number[][]> {
  if (rows.length <= sliceRows) return classifier.predictProba(rows);
  const out: number[][] = [];
  for (let start = 0; start < rows.length; start += sliceRows) {
    if (start > 0) await nextTurn();
    signal?.throwIfAborted();
    const probs = classifier.predictProba(rows.slice(start, start + sliceRows));
    for (let i = 0; i < probs.length; i++) out.push(probs[i]);
  }
  return out;
}

/**
 * Counts the batches being scored and refuses one over `limit` (the caller
 * answers 503). Refusing rather than queueing keeps the memory held by parsed
 * bodies and the latency of every batch bounded.
 */
export class ScoreGate {
  #inFlight = 0;
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Takes a slot; false when all `limit` are taken. Give it back with `leave()`. */
  tryEnter(): boolean {
    if (this.#inFlight >= this.#limit) return false;
    this.#inFlight++;
    return true;
  }

  leave(): void {
    this.#inFlight--;
  }
}
