import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The Prometheus metrics every long-running consumer exposes on `/metrics`.
 * One registry per process; each consumer labels its series with `component`.
 * docs/operations.md lists which component fills which series, and
 * test/metrics/documented-series.test.ts holds each component to that list.
 */
export class PipelineMetrics {
  readonly registry: Registry;
  readonly recordsIn: Counter<'component' | 'topic'>;
  readonly recordsOut: Counter<'component' | 'topic'>;
  readonly deadLetters: Counter<'component' | 'reason'>;
  readonly driftEvents: Counter<'component' | 'kind'>;
  readonly consumerLag: Gauge<'component' | 'topic' | 'partition'>;
  readonly batchSeconds: Histogram<'component'>;
  readonly modelVersion: Gauge<'component' | 'model'>;
  readonly waitingForModel: Gauge<'component'>;
  readonly predictionSeconds: Histogram<'component'>;
  readonly checkpoints: Counter<'component'>;
  readonly retrainings: Counter<'component' | 'trigger' | 'outcome'>;
  readonly retrainingSeconds: Histogram<'component' | 'trigger'>;
  readonly calibrations: Counter<'component'>;
  readonly irregularReadings: Counter<'component' | 'kind'>;
  readonly stateStreams: Gauge<'component' | 'state'>;
  /** What `stateStreams` reads at each scrape, per component. */
  readonly #streamCounts = new Map<string, () => { memory: number; evicted: number }>();

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    this.recordsIn = new Counter({
      name: 'activity_records_in_total',
      help: 'Records consumed',
      labelNames: ['component', 'topic'],
      registers,
    });
    this.recordsOut = new Counter({
      name: 'activity_records_out_total',
      help: 'Records published (acknowledged by the log)',
      labelNames: ['component', 'topic'],
      registers,
    });
    this.deadLetters = new Counter({
      name: 'activity_dead_letters_total',
      help: 'Records sent to the dead-letter topic',
      labelNames: ['component', 'reason'],
      registers,
    });
    this.checkpoints = new Counter({
      name: 'activity_checkpoints_total',
      help: 'State checkpoints written (snapshots and marker acknowledged)',
      labelNames: ['component'],
      registers,
    });
    this.driftEvents = new Counter({
      name: 'activity_drift_events_total',
      help: 'Drift events emitted',
      labelNames: ['component', 'kind'],
      registers,
    });
    this.consumerLag = new Gauge({
      name: 'activity_consumer_lag',
      help: 'Records behind the end of the partition after the last batch',
      labelNames: ['component', 'topic', 'partition'],
      registers,
    });
    this.batchSeconds = new Histogram({
      name: 'activity_batch_seconds',
      help: 'Time to process one batch, outputs acknowledged',
      labelNames: ['component'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    this.modelVersion = new Gauge({
      name: 'activity_model_version',
      help: 'Model version currently in use',
      labelNames: ['component', 'model'],
      registers,
    });
    this.waitingForModel = new Gauge({
      name: 'activity_predictor_waiting_for_model',
      help: '1 while the predictor has no model version to score with (activity-tracking bootstrap trains one), else 0',
      labelNames: ['component'],
      registers,
    });
    this.predictionSeconds = new Histogram({
      name: 'activity_prediction_seconds',
      help: 'Latency of one prediction batch',
      labelNames: ['component'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5],
      registers,
    });
    this.retrainings = new Counter({
      name: 'activity_retrainings_total',
      help: 'Retrainings finished, by trigger (drift, growth) and outcome (promoted, rejected, not-enough-data, already-done)',
      labelNames: ['component', 'trigger', 'outcome'],
      registers,
    });
    this.retrainingSeconds = new Histogram({
      name: 'activity_retraining_seconds',
      help: 'Time from a retraining being asked for to its outcome stored (candidates trained, gate decided)',
      labelNames: ['component', 'trigger'],
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
      registers,
    });
    this.calibrations = new Counter({
      name: 'activity_calibrations_total',
      help: 'Device calibrations published',
      labelNames: ['component'],
      registers,
    });
    this.irregularReadings = new Counter({
      name: 'activity_readings_irregular_total',
      help: 'Timed readings the grid could not take as they came: gaps that ended a window, late and duplicate samples left out',
      labelNames: ['component', 'kind'],
      registers,
    });
    const streamCounts = this.#streamCounts;
    this.stateStreams = new Gauge({
      name: 'activity_state_streams',
      help: 'Streams of a stateful consumer (devices, or device and activity pairs) in memory, and evicted to its spill directory when idle',
      labelNames: ['component', 'state'],
      registers,
      // Read when scraped: nothing on the record path.
      collect() {
        for (const [component, counts] of streamCounts) {
          const { memory, evicted } = counts();
          this.set({ component, state: 'memory' }, memory);
          this.set({ component, state: 'evicted' }, evicted);
        }
      },
    });
  }

  /** Makes `activity_state_streams` report the stream counts `counts` gives, for `component`. */
  countStreams(component: string, counts: () => { memory: number; evicted: number }): void {
    this.#streamCounts.set(component, counts);
  }
}
