import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The gateway's series, registered once in the process's registry (its /metrics). */
export class GatewayMetrics {
  readonly requests: Counter<'route' | 'status'>;
  readonly samples: Counter;
  readonly replays: Counter;
  readonly ackSeconds: Histogram;
  readonly dropped: Counter;

  constructor(registry: Registry = new Registry(), gauges: { inFlight: () => number; inFlightBytes: () => number }) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'gateway_requests_total',
      help: 'Ingest requests and WebSocket messages by route and status (499: the client hung up first)',
      labelNames: ['route', 'status'],
      registers,
    });
    this.samples = new Counter({
      name: 'gateway_samples_total',
      help: 'Samples acknowledged by the log',
      registers,
    });
    this.replays = new Counter({
      name: 'gateway_idempotent_replays_total',
      help: 'Retries answered from the idempotency window without publishing again',
      registers,
    });
    this.ackSeconds = new Histogram({
      name: 'gateway_ack_seconds',
      help: 'From a batch admitted to its acknowledgement by the log',
      buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    this.dropped = new Counter({
      name: 'gateway_connections_dropped_total',
      help: 'Connections closed on accept because maxConnections were open',
      registers,
    });
    new Gauge({
      name: 'gateway_in_flight',
      help: 'Batches admitted and not yet acknowledged',
      registers,
      collect() {
        this.set(gauges.inFlight());
      },
    });
    new Gauge({
      name: 'gateway_in_flight_bytes',
      help: 'Body bytes of the batches in flight',
      registers,
      collect() {
        this.set(gauges.inFlightBytes());
      },
    });
  }
}
