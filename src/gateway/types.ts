import type { SensorReadingsV2 } from '../schemas/types.gen.ts';

/** What the gateway answers once the broker acknowledged a batch (HTTP 200 body, WebSocket ack frame). */
export type ReadingsAck = ReadingsAckV1 | ReadingsAckV2;

/** The ack of a sensor-readings v1 batch. */
export interface ReadingsAckV1 {
  ok: true;
  device: string;
  /** The batch's first sample index, as sent. */
  sequence: number;
  samples: number;
  /** The client's batch id, when it sent one. */
  idempotencyKey?: string;
}

/** The ack of a timed-readings (v2) batch, which has no sequence: its sensor and first time identify it. */
export interface ReadingsAckV2 {
  ok: true;
  type: 'dev.activity-tracking.sensor-readings.v2';
  device: string;
  sensor: SensorReadingsV2['sensor'];
  /** Epoch ms of the first sample (`timestamps[0]` or `start`), as sent: the record's `ce_time`. */
  time: number;
  samples: number;
  /** The client's batch id, when it sent one. */
  idempotencyKey?: string;
}

/** An error answer: a stable `error` code (docs/gateway.md) and a message for people. */
export interface GatewayErrorBody {
  error: string;
  message: string;
  /** For `invalid_readings`: the decoder's reason code (schema-violation, malformed-binary, ...). */
  reason?: string;
}

export interface Gateway {
  /** `http://host:port` of the ingest endpoints (`https://` with TLS; the stream is then `wss://`). */
  readonly url: string;
  /** True once listening and until close begins: what /readyz reports. */
  ready(): boolean;
  /** Facts for /healthz: in-flight batches and bytes, remembered batch ids, whether tokens and TLS are on. */
  details(): Record<string, unknown>;
  /** Stops accepting, lets in-flight batches reach their acknowledgement, then closes every connection. */
  close(): Promise<void>;
}
