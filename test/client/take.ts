import type { ReceivedEvent } from '../../src/client/index.ts';

/**
 * The ids of the first `count` events of a subscription, as a user's loop reads them: `break` after the last
 * (the record it stopped on is redelivered), or a throw at `crashAt` (the same, by an error).
 */
export async function take<T>(stream: AsyncIterable<ReceivedEvent<T>>, count: number, crashAt = -1): Promise<string[]> {
  const ids: string[] = [];
  for await (const event of stream) {
    if (ids.length === crashAt) throw new Error('crash');
    ids.push(event.id);
    if (ids.length === count) break;
  }
  return ids;
}
