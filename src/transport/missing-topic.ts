import { ActivityTrackingError, TransportError } from '../errors.ts';

/**
 * The port's error for a topic that does not exist (src/transport/types.ts): a TransportError that is
 * not retriable, marked in its context, so that a caller tells "create the topics" from "the broker is
 * down" without reading a message. `fix` says how to make the topic on that log.
 */
export function missingTopicError(topic: string, fix: string, cause?: unknown): TransportError {
  return new TransportError(`topic "${topic}" does not exist; ${fix}`, {
    retriable: false,
    context: { topic, missingTopic: true },
    ...(cause === undefined ? {} : { cause }),
  });
}

/** The topic `err` says does not exist, or undefined when `err` is another failure. */
export function missingTopicOf(err: unknown): string | undefined {
  if (!(err instanceof ActivityTrackingError) || err.context.missingTopic !== true) return undefined;
  return String(err.context.topic);
}
