import { TrackingError } from '../errors.ts';
import { encodeEvent } from '../schemas/cloudevents.ts';
import { EVENT_TYPES } from '../schemas/registry.ts';
import type { ModelEvent } from '../schemas/types.gen.ts';
import { TOPICS } from '../topics.ts';
import { CHAMPION, type ModelVersion, type Registry } from '../tracking/types.ts';
import type { Transport } from '../transport/types.ts';

export interface PromoteResult {
  version: ModelVersion;
  previous: ModelVersion | null;
}

/**
 * A manual promotion (or a rollback to an earlier version): the champion alias moves and a `promoted`
 * model event tells the deployer. Both happen or neither does, as seen by the consumers:
 * - the producer connects before the alias moves, so a broker that is down changes nothing;
 * - the alias moves before the event is published, in the retrainer's order, so a deployer never
 *   deploys a version the registry does not call champion (the next gate would compare against another);
 * - a publish that fails puts the alias back where it was (or removes it), then the error is raised.
 */
export async function promoteVersion(
  registry: Registry,
  transport: Transport,
  options: { model: string; version: number; source?: string /** @defaultValue TOPICS.modelEvents */; topic?: string },
): Promise<PromoteResult> {
  const { model } = options;
  const version = await registry.getVersion(model, options.version);
  const previous = await registry.byAlias(model, CHAMPION);
  const producer = await transport.producer();
  try {
    const decision = JSON.parse(version.tags['activity-tracking.decision'] ?? '{}') as {
      gate?: { metric: string; candidate: number };
      lineage?: ModelEvent['lineage'];
    };
    const { headers, value } = encodeEvent({
      type: EVENT_TYPES.model,
      source: options.source ?? 'activity-tracking/cli',
      subject: model,
      id: `${model}:${version.version}:promoted:manual:${Date.now()}`,
      data: {
        event: 'promoted',
        model,
        version: version.version,
        runId: version.runId,
        scores: {
          metric: decision.gate?.metric ?? 'manual',
          candidate: decision.gate?.candidate ?? 0,
          production: null,
        },
        ...(decision.lineage ? { lineage: decision.lineage } : {}),
        artifactDigest: version.artifactDigest,
        reason: `promoted by hand (was v${previous?.version ?? 'none'})`,
      },
    });
    await registry.setAlias(model, CHAMPION, version.version);
    try {
      await producer.publish([{ topic: options.topic ?? TOPICS.modelEvents, key: model, headers, value }]);
    } catch (err) {
      await restoreChampion(registry, model, previous, version, err);
      throw err;
    }
  } finally {
    await producer.close();
  }
  return { version, previous };
}

async function restoreChampion(
  registry: Registry,
  model: string,
  previous: ModelVersion | null,
  attempted: ModelVersion,
  publishError: unknown,
): Promise<void> {
  try {
    if (previous) await registry.setAlias(model, CHAMPION, previous.version);
    else await registry.deleteAlias(model, CHAMPION);
  } catch (cause) {
    throw new TrackingError(
      `the promoted event for v${attempted.version} of ${model} was not published, and the champion alias could not be put back to ${previous ? `v${previous.version}` : 'none'}: set it back by hand (activity-tracking promote --version ${previous?.version ?? '<n>'}) once the registry answers`,
      {
        cause,
        context: {
          model,
          attempted: attempted.version,
          previous: previous?.version ?? null,
          publishError: String(publishError),
        },
      },
    );
  }
}
