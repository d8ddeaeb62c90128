import type { Logger } from '../../src/log/logger.ts';
import type { PipelineMetrics } from '../../src/metrics/metrics.ts';
import { deadLetter, reasonOf } from '../../src/pipeline/dead-letter.ts';
import type { OutgoingRecord, Producer, RecordBatch } from '../../src/transport/types.ts';
import type { CalibrationStep } from './calibrate.ts';
import { COMPONENT, type RetrainOutcome } from './retrain.ts';

/** When a retraining was asked for and when its outcome was stored (epoch ms, wall clock). */
export interface RetrainTiming {
  trigger: 'drift' | 'growth';
  /** The burst's first drift event was consumed, or the post-drift data reached its growth step. */
  requestedAt: number;
  finishedAt: number;
}

/** A calibration the retrainer published: which device, what was fitted, and when (epoch ms). */
export interface CalibrationNote {
  device: string;
  id: string;
  model: string;
  degrees: number;
  offsetNorm: number;
  activities: string[];
  /** When the burst's first drift event was consumed, or the growth step reached. */
  requestedAt: number;
  at: number;
}

/**
 * What the retrainer puts out — model events, device calibrations, dead letters — and what it reports
 * of them: the metrics, `onRetrained`, and the outcomes and calibrations kept for reports and tests.
 */
export class RetrainerOutputs {
  readonly outcomes: RetrainOutcome[] = [];
  readonly calibrations: CalibrationNote[] = [];
  /** Set while the consumer runs. */
  producer: Producer | undefined;
  readonly #deadLetterTopic: string;
  readonly #logger: Logger;
  readonly #metrics: PipelineMetrics | undefined;
  readonly #onRetrained: ((outcome: RetrainOutcome, timing: RetrainTiming) => void) | undefined;

  constructor(o: {
    deadLetterTopic: string;
    logger: Logger;
    metrics: PipelineMetrics | undefined;
    onRetrained: ((outcome: RetrainOutcome, timing: RetrainTiming) => void) | undefined;
  }) {
    this.#deadLetterTopic = o.deadLetterTopic;
    this.#logger = o.logger;
    this.#metrics = o.metrics;
    this.#onRetrained = o.onRetrained;
    // Starts at 0 (a series before the first calibration, or with calibration off); retrainings appear with their labels.
    this.#metrics?.calibrations.inc({ component: COMPONENT }, 0);
  }

  /** Publishes `records` and counts them by topic. */
  async publish(records: OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.producer!.publish(records);
    if (this.#metrics) for (const r of records) this.#metrics.recordsOut.inc({ component: COMPONENT, topic: r.topic });
  }

  /** A dead letter of this component, counted by reason. */
  deadLetter(record: RecordBatch['records'][number], err: unknown): OutgoingRecord {
    this.#metrics?.deadLetters.inc({ component: COMPONENT, reason: reasonOf(err) });
    return deadLetter(COMPONENT, record, err, this.#deadLetterTopic);
  }

  /** A retraining's outcome in the metrics and to `onRetrained`. */
  retrained(outcome: RetrainOutcome, timing: RetrainTiming): void {
    this.outcomes.push(outcome);
    if (this.#metrics) {
      const result =
        outcome.status === 'trained' ? (outcome.promoted ? 'promoted' : 'rejected') : (outcome.status as string);
      this.#metrics.retrainings.inc({ component: COMPONENT, trigger: timing.trigger, outcome: result });
      this.#metrics.retrainingSeconds.observe(
        { component: COMPONENT, trigger: timing.trigger },
        (timing.finishedAt - timing.requestedAt) / 1000,
      );
    }
    this.#onRetrained?.(outcome, timing);
  }

  /** Publishes a calibration step's records, then notes, counts and logs each calibration it published. */
  async calibrated(step: CalibrationStep, requestedAt: number): Promise<void> {
    await this.publish(step.records);
    for (const [device, { frame, fit, activities }] of step.published) {
      this.#metrics?.calibrations.inc({ component: COMPONENT });
      const { model, degrees, offsetNorm } = fit;
      this.calibrations.push({
        device,
        id: frame.id,
        model,
        degrees,
        offsetNorm,
        activities,
        requestedAt,
        at: Date.now(),
      });
      this.#logger.info({ device, calibration: frame.id, fit }, 'device calibration published');
    }
  }
}
