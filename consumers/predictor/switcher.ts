import type { Logger } from '../../src/log/logger.ts';
import type { BatchProcessor } from '../../src/pipeline/stream-consumer.ts';
import { decodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { ModelHandle } from '../../src/serving/model-handle.ts';
import type { OutgoingRecord, RecordBatch } from '../../src/transport/types.ts';

/**
 * Follows deployment events and switches the predictor's handle to each
 * version that `succeeded`. Undecodable events are skipped (the deployer's own
 * output; dead-lettering them here would duplicate its dead letters).
 */
export class ModelSwitcher implements BatchProcessor {
  constructor(
    readonly handle: ModelHandle,
    readonly logger?: Logger,
  ) {}

  async process(batch: RecordBatch): Promise<OutgoingRecord[]> {
    for (const record of batch.records) {
      let data: { event: string; model: string; version: number };
      try {
        data = decodeEvent(record.headers, record.value, { accept: [EVENT_TYPES.deployment] }).data;
      } catch (err) {
        this.logger?.warn({ err }, 'undecodable deployment event skipped');
        continue;
      }
      if (data.event === 'succeeded') await this.handle.switchTo({ name: data.model, version: data.version });
    }
    return [];
  }
}
