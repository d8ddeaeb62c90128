import type { Logger } from '../../src/log/logger.ts';
import { loadModel } from '../../src/model/artifact.ts';
import { decodeEvent } from '../../src/schemas/cloudevents.ts';
import { EVENT_TYPES } from '../../src/schemas/registry.ts';
import type { Registry } from '../../src/tracking/types.ts';
import type { Subscription, Transport } from '../../src/transport/types.ts';
import type { ServingModel } from './processor.ts';

export interface DeployedModelOptions {
  transport: Transport;
  registry: Registry;
  /**
   * Where versions come from: `deployment-events` (a version counts once the deployer reports it
   * `succeeded`, or restored on `rolled-back`) or `model-events` (every `promoted` version, for a
   * predictor that serves in-process with no deployer).
   */
  follow: { topic: string; kind: 'deployments' | 'promotions' };
  /** A group of its own per predictor instance: every instance must see every event. */
  groupId: string;
  logger?: Logger;
  onSwitch?: (model: ServingModel) => void;
}

/**
 * The model version a predictor scores with, kept current by following the
 * deployment (or promotion) events: on each, the version's artifact is read
 * from the registry, checked against its digest, loaded, and swapped in whole.
 */
export class DeployedModel {
  #current: ServingModel | null = null;
  #subscription: Subscription | undefined;

  constructor(readonly options: DeployedModelOptions) {}

  current = (): ServingModel | null => this.#current;

  async start(): Promise<void> {
    const { transport, follow, registry } = this.options;
    this.#subscription = await transport.subscribe({
      groupId: this.options.groupId,
      topics: [follow.topic],
      fromBeginning: true,
      handler: async (batch) => {
        for (const record of batch.records) {
          let target: { name: string; version: number } | null = null;
          try {
            if (follow.kind === 'deployments') {
              const { data } = decodeEvent(record.headers, record.value, { accept: [EVENT_TYPES.deployment] });
              if (data.event === 'succeeded') target = { name: data.model, version: data.version };
              if (data.event === 'rolled-back' && data.previousVersion)
                target = { name: data.model, version: data.previousVersion };
            } else {
              const { data } = decodeEvent(record.headers, record.value, { accept: [EVENT_TYPES.model] });
              if (data.event === 'promoted') target = { name: data.model, version: data.version };
            }
          } catch (err) {
            this.options.logger?.warn({ err, offset: record.offset }, 'unreadable event ignored by the predictor');
          }
          if (!target || (this.#current?.name === target.name && this.#current.version === target.version)) continue;
          const version = await registry.getVersion(target.name, target.version);
          const { classifier } = loadModel(await registry.readVersionArtifact(version), version.artifactDigest);
          this.#current = { name: target.name, version: target.version, classifier };
          this.options.logger?.info(
            { model: target.name, version: target.version },
            'predictor switched model version',
          );
          this.options.onSwitch?.(this.#current);
        }
      },
    });
  }

  async stop(): Promise<void> {
    await this.#subscription?.stop();
  }
}
