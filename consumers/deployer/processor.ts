import type { DeployTarget } from '../../src/deploy/types.ts';
import { DeploymentError } from '../../src/errors.ts';
import type { Logger } from '../../src/log/logger.ts';
import type { PipelineMetrics } from '../../src/metrics/metrics.ts';
import { deadLetter, reasonOf } from '../../src/pipeline/dead-letter.ts';
import type { BatchProcessor } from '../../src/pipeline/stream-consumer.ts';
import { decodeEvent, encodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { DeploymentEvent } from '../../src/schemas/types.gen.ts';
import { TOPICS, type TopicNames } from '../../src/topics.ts';
import type { OutgoingRecord, RecordBatch } from '../../src/transport/types.ts';

export const COMPONENT = 'deployer';

export interface DeployerOptions {
  target: DeployTarget;
  topics?: TopicNames;
  logger?: Logger;
  metrics?: PipelineMetrics;
}

/**
 * Model events in, deployment events out: a `promoted` version is deployed to
 * the target. Idempotent: a redelivered promotion of the version already
 * serving emits nothing. Deploys run one at a time, in log order.
 */
export class DeployerProcessor implements BatchProcessor {
  readonly #target: DeployTarget;
  readonly #topics: TopicNames;
  readonly #logger: Logger | undefined;
  readonly #metrics: PipelineMetrics | undefined;
  readonly stats = { deployed: 0, failed: 0, skipped: 0 };

  constructor(options: DeployerOptions) {
    this.#target = options.target;
    this.#topics = options.topics ?? TOPICS;
    this.#logger = options.logger?.child({ component: COMPONENT });
    this.#metrics = options.metrics;
  }

  async process(batch: RecordBatch): Promise<OutgoingRecord[]> {
    const out: OutgoingRecord[] = [];
    for (const record of batch.records) {
      let event: { model: string; version: number; event: string };
      try {
        event = decodeEvent(record.headers, record.value, { accept: [EVENT_TYPES.model] }).data;
      } catch (err) {
        this.#metrics?.deadLetters.inc({ component: COMPONENT, reason: reasonOf(err) });
        out.push(deadLetter(COMPONENT, record, err, this.#topics.deadLetter));
        continue;
      }
      if (event.event !== 'promoted') continue;
      const ref = { name: event.model, version: event.version };
      const current = this.#target.current();
      if (current && current.model.name === ref.name && current.model.version === ref.version) {
        this.stats.skipped++;
        continue;
      }
      const previousVersion = current?.model.version ?? null;
      const emit = (data: Omit<DeploymentEvent, 'model' | 'version' | 'target' | 'previousVersion'>) => {
        const { headers, value } = encodeEvent({
          type: EVENT_TYPES.deployment,
          source: `activity-tracking/${COMPONENT}`,
          subject: `${ref.name}@${ref.version}`,
          id: `${record.topic}:${record.partition}:${record.offset}:${data.event}`,
          data: { model: ref.name, version: ref.version, target: this.#target.kind, previousVersion, ...data },
        });
        out.push({ topic: this.#topics.deploymentEvents, key: ref.name, headers, value });
      };
      emit({ event: 'started', endpoint: null, reason: null });
      try {
        const d = await this.#target.deploy(ref);
        this.stats.deployed++;
        emit({ event: 'succeeded', endpoint: d.endpoint, reason: null });
      } catch (err) {
        if (!(err instanceof DeploymentError)) throw err;
        this.stats.failed++;
        this.#logger?.warn({ err, model: ref }, 'deployment failed');
        emit({ event: 'failed', endpoint: null, reason: err.message });
        if (err.context.rolledBack)
          emit({ event: 'rolled-back', endpoint: this.#target.current()?.endpoint ?? null, reason: err.message });
      }
      const serving = this.#target.current()?.model;
      if (serving) this.#metrics?.modelVersion.set({ component: COMPONENT, model: serving.name }, serving.version);
    }
    return out;
  }
}
