import type { Logger } from '../../src/log/logger.ts';
import type { BatchContext } from '../../src/transport/types.ts';

/** How often a batch that waits or trains heartbeats: kafkajs sends one at most every heartbeatInterval anyway. */
const HEARTBEAT_MS = 1000;

/**
 * One retraining at a time: drift bursts and follow-ups take turns. A drift burst runs inside its batch's
 * handler (the offset commit waits for its outcome), so a batch that waits or works heartbeats to keep its
 * group membership; a follow-up holds no batch and passes no context.
 */
export class Turns {
  #turn: Promise<unknown> = Promise.resolve();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Runs `work` when no other retraining runs; a waiting batch keeps its group membership. */
  async run<T>(work: () => Promise<T>, context?: BatchContext): Promise<T> {
    const previous = this.#turn;
    let release!: () => void;
    this.#turn = new Promise<void>((r) => {
      release = r;
    });
    try {
      if (context) await waitBeating(previous, context);
      else await previous.catch(() => undefined);
      return context ? await beating(work, context, this.#logger) : await work();
    } finally {
      release();
    }
  }
}

// The wait and the work heartbeat apart on purpose (one helper would need a flag choosing between two
// bodies): before its turn a batch has done nothing, so a refused heartbeat (a rebalance) is thrown and
// ends the batch, uncommitted, for redelivery to the partition's next owner — as while a burst gathers;
// once the work runs it cannot be interrupted, so a timer beats beside it without delaying its result
// and a refusal is only logged.

/** Waits for `previous` to settle, heartbeating every HEARTBEAT_MS meanwhile; a refused heartbeat throws. */
async function waitBeating(previous: Promise<unknown>, context: BatchContext): Promise<void> {
  let waiting = true;
  void previous.finally(() => {
    waiting = false;
  });
  while (waiting) {
    await Promise.race([previous.catch(() => undefined), new Promise((r) => setTimeout(r, HEARTBEAT_MS))]);
    if (waiting) await context.heartbeat();
  }
}

/**
 * Runs a batch's work while telling the group the member lives: kafkajs heartbeats only between batches
 * and when the handler asks, so a retraining longer than the session timeout (training runs in worker
 * threads, the event loop is free) used to cost the membership, a crash and a rejoin (issue 15).
 * A heartbeat refused (a rebalance) is left to kafkajs, which rejoins once the batch returns.
 */
async function beating<T>(work: () => Promise<T>, context: BatchContext, logger: Logger): Promise<T> {
  const timer = setInterval(() => {
    context.heartbeat().catch((err: unknown) => logger.debug({ err }, 'heartbeat during a retraining refused'));
  }, HEARTBEAT_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
