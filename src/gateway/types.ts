/** What the gateway answers once the broker acknowledged a batch (HTTP 200 body, WebSocket ack frame). */
export interface ReadingsAck {
  ok: true;
  device: string;
  /** The batch's first sample index, as sent. */
  sequence: number;
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
  /** `http://host:port` of the ingest endpoints. */
  readonly url: string;
  /** True once listening and until close begins: what /readyz reports. */
  ready(): boolean;
  /** Facts for /healthz: in-flight batches and bytes, remembered batch ids, whether tokens are required. */
  details(): Record<string, unknown>;
  /** Stops accepting, lets in-flight batches reach their acknowledgement, then closes every connection. */
  close(): Promise<void>;
}
