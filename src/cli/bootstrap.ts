import type { Command } from 'commander';
import { candidateTrainer, QUICK_CANDIDATES } from '../../consumers/retrainer/candidates.ts';
import { resolveRetrainerOptions } from '../../consumers/retrainer/options.ts';
import { bootstrap, type RetrainOutcome, type Trainer } from '../../consumers/retrainer/retrain.ts';
import { ConflictError, ServiceUnavailableError } from '../errors.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import { DEFAULT_CANDIDATES } from '../model/train.ts';
import { TOPICS, type TopicNames } from '../topics.ts';
import { createTrackingBackend } from '../tracking/index.ts';
import { CHAMPION, type ModelVersion, type TrackingBackend } from '../tracking/types.ts';
import type { Transport } from '../transport/types.ts';
import { cliNamespace, type GlobalOptions } from './options.ts';
import { oneShotTransport, requireSharedLog } from './transport.ts';

export interface FirstModelOptions {
  transport: Transport;
  backend: TrackingBackend;
  trainer: Trainer;
  /** @defaultValue TOPICS */
  topics?: TopicNames;
  /** Registered model. @defaultValue 'activity-classifier' */
  model?: string;
  /** Train even when a version is in production; the champion/challenger gate then decides. @defaultValue false */
  force?: boolean;
  logger?: Logger;
}

export interface FirstModelResult {
  outcome: RetrainOutcome & { version: ModelVersion };
  /** The champion before, if any (only with `force`). */
  previous: ModelVersion | null;
  /** Model events published for the deployer (none when an earlier bootstrap's version is not the champion now). */
  published: number;
}

/**
 * The first model of a deployment with one process per consumer (issue 15): the retrainer's
 * `bootstrap()` over every labelled vector now in the features topic, promoted by its gate (a first
 * version is promoted without a contest), and its model events published so that the deployer deploys
 * it. Refused while a version is in production unless `force`: retraining then follows drift.
 */
export async function bootstrapFirstModel(o: FirstModelOptions): Promise<FirstModelResult> {
  const topics = o.topics ?? TOPICS;
  const options = resolveRetrainerOptions({ ...(o.model ? { model: o.model } : {}), calibrate: false });
  const { model } = options;
  await o.backend.registry.ensureModel(model);
  const previous = await o.backend.registry.byAlias(model, CHAMPION);
  if (previous && !o.force)
    throw new ConflictError(
      `v${previous.version} of ${model} is in production already; bootstrap trains a first model only (the retrainer follows drift from there). Add --force to train one from the whole features topic anyway, for the gate to decide, or put a version in production with activity-tracking promote --version <n>`,
      { context: { model, champion: previous.version } },
    );
  const ends = await o.transport.endOffsets(topics.features);
  if (ends.every((end) => end === 0))
    throw new ServiceUnavailableError(
      `the features topic "${topics.features}" is empty: there are no labelled vectors to train a first model from; replay labelled phones with the featurizer running (activity-tracking replay --split train), then run bootstrap again`,
      { context: { topic: topics.features } },
    );
  const outcome = await bootstrap({
    transport: o.transport,
    backend: o.backend,
    topics,
    trainer: o.trainer,
    options,
    ...(o.logger ? { logger: o.logger } : {}),
  });
  if (!outcome.version)
    throw new ServiceUnavailableError(
      `no first model trained from "${topics.features}": ${outcome.reason ?? outcome.status}; replay more labelled phones (activity-tracking replay --split train), then run bootstrap again`,
      { context: { topic: topics.features, ends } },
    );
  // A repeat over an unchanged topic finds the version it made before and re-emits its events; they must
  // not send the deployer back to it when another version has been promoted since.
  const republish = outcome.status === 'trained' || previous === null || previous.version === outcome.version.version;
  const events = republish ? outcome.events : [];
  if (events.length > 0) {
    const producer = await o.transport.producer();
    try {
      await producer.publish(events);
    } finally {
      await producer.close();
    }
  }
  return { outcome: { ...outcome, version: outcome.version }, previous, published: events.length };
}

/** `activity-tracking bootstrap`: the first model version, from the labelled features on the shared log. */
export function addBootstrapCommand(program: Command): void {
  program
    .command('bootstrap')
    .description(
      'train, register and promote a first model version from the labelled feature vectors now in the features topic, and tell the deployer',
    )
    .option('--quick', 'train the quick candidates only (k-NN, linear SVM)')
    .option('--force', 'train even when a version is in production; the gate decides whether the new one replaces it')
    .option('--model <name>', 'registered model', 'activity-classifier')
    .action(async (o: { quick?: boolean; force?: boolean; model: string }) => {
      const global = program.opts<GlobalOptions>();
      requireSharedLog(global.transport, 'bootstrap', 'it would find no features to train from');
      const logger = createLogger({ level: global.logLevel, name: 'bootstrap' });
      const backend = createTrackingBackend();
      const transport = oneShotTransport(global, 'bootstrap');
      try {
        const { outcome, previous, published } = await bootstrapFirstModel({
          transport,
          backend,
          trainer: candidateTrainer(o.quick ? QUICK_CANDIDATES : DEFAULT_CANDIDATES),
          model: o.model,
          topics: cliNamespace(global).topics,
          ...(o.force ? { force: true } : {}),
          logger,
        });
        const v = outcome.version.version;
        const best = outcome.candidates.reduce<(typeof outcome.candidates)[number] | null>(
          (a, c) => (a === null || (c.metrics.macroF1 ?? 0) > (a.metrics.macroF1 ?? 0) ? c : a),
          null,
        );
        const trained =
          outcome.status === 'already-done'
            ? `v${v} of ${o.model} was trained from this data before (run ${outcome.runId})`
            : `v${v} of ${o.model} trained (run ${outcome.runId}${best ? `, best ${best.name}, macro-F1 ${best.metrics.macroF1?.toFixed(3)}` : ''})`;
        const verdict = outcome.promoted
          ? published > 0
            ? 'promoted; the deployer deploys it'
            : 'promoted earlier; its events are not sent again'
          : `not promoted; v${previous?.version ?? '?'} stays in production`;
        process.stdout.write(`${trained}: ${verdict}\n`);
      } finally {
        await transport.close();
        await backend.close();
      }
    });
}
