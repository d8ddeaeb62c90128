/**
 * The package's library entry (`import { connect } from 'activity-tracking'`): a small typed client for a
 * user's own service, which sends phone readings and reads drift events and predictions over the
 * pipeline's transport, in its CloudEvents and schemas (README "Client library").
 */
export type { SendOptions } from '../../producers/readings-producer.ts';
export { ReadingsProducer } from '../../producers/readings-producer.ts';
export { ActivityTrackingError, InvalidOptionError, StoppingError } from '../errors.ts';
export type { DecodeError, DecodeReason } from '../schemas/cloudevents.ts';
export { EVENT_TYPES } from '../schemas/registry.ts';
export type { DriftEvent, Prediction, SensorReadings, SensorReadingsV2 } from '../schemas/types.gen.ts';
export { TOPICS, type TopicNames } from '../topics.ts';
export type { Transport } from '../transport/types.ts';
export { Client, connect, transportKindFromEnv } from './client.ts';
export { EventStream } from './event-stream.ts';
export type { ConnectOptions, InvalidRecord, ReceivedEvent, SubscribeEventsOptions, TransportKind } from './types.ts';
