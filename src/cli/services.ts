import type { Command } from 'commander';
import { VECTOR_ENCODINGS, vectorEncoding } from '../../consumers/featurizer/processor.ts';
import {
  type ConsumerWiring,
  deployerConsumer,
  driftDetectorConsumer,
  featurizerConsumer,
  predictorConsumer,
} from '../../consumers/index.ts';
import { ModelSwitcher } from '../../consumers/predictor/switcher.ts';
import { candidateTrainer, QUICK_CANDIDATES } from '../../consumers/retrainer/candidates.ts';
import { RetrainerConsumer } from '../../consumers/retrainer/consumer.ts';
import { AciTarget, aciOptionsFromEnv } from '../deploy/aci.ts';
import { ContainerTarget, containerOptionsFromEnv } from '../deploy/container.ts';
import { LocalTarget } from '../deploy/local.ts';
import type { DeployTarget } from '../deploy/types.ts';
import { InvalidOptionError } from '../errors.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import { PipelineMetrics } from '../metrics/metrics.ts';
import { DEFAULT_CANDIDATES } from '../model/train.ts';
import { StreamConsumer } from '../pipeline/stream-consumer.ts';
import { ModelHandle } from '../serving/model-handle.ts';
import { registryModelSource } from '../serving/model-source.ts';
import { TOPICS } from '../topics.ts';
import { createTrackingBackend, TRACKING_ENV } from '../tracking/index.ts';
import type { TrackingBackend } from '../tracking/types.ts';
import { createTransport } from '../transport/index.ts';
import type { Transport } from '../transport/types.ts';
import { cliNamespace, type GlobalOptions, idleDuration, port } from './options.ts';
import { type Running, runUntilStopped } from './service-run.ts';
import { requireSharedLog } from './transport.ts';

export interface ServiceOptions {
  group?: string;
  metricsPort: string;
  metricsHost: string;
  exactlyOnce?: boolean;
  checkpointInterval?: string;
  evictIdle?: string;
  stateDir?: string;
}

/**
 * Runs one long-running consumer until SIGINT or SIGTERM (src/cli/service-run.ts): /metrics, /healthz
 * and /readyz on the operations port from the start, the topics waited for, a clean stop.
 */
export async function runService(
  name: string,
  global: GlobalOptions,
  options: ServiceOptions,
  start: (ctx: {
    transport: Transport;
    logger: Logger;
    metrics: PipelineMetrics;
    wiring: ConsumerWiring;
  }) => Promise<Running>,
): Promise<void> {
  requireSharedLog(global.transport, name, 'nothing would ever reach it');
  const logger = createLogger({ level: global.logLevel, name });
  // Checked before the transport connects: a typo should not wait for a broker first.
  const metricsPort = port('--metrics-port (env METRICS_PORT)', options.metricsPort);
  const interval = options.checkpointInterval === undefined ? undefined : Number(options.checkpointInterval);
  if (interval !== undefined && !(Number.isInteger(interval) && interval > 0))
    throw new InvalidOptionError('--checkpoint-interval must be a positive integer');
  const evictIdle =
    options.evictIdle === undefined ? undefined : idleDuration('--evict-idle (env EVICT_IDLE)', options.evictIdle);
  // Listened for from the start: a consumer still waiting for its topics stops on SIGTERM as well.
  const stopping = new AbortController();
  const onSignal = () => stopping.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const transport = createTransport(global.transport, { logger });
  const metrics = new PipelineMetrics();
  const ns = cliNamespace(global);
  const wiring: ConsumerWiring = {
    transport,
    logger,
    metrics,
    topics: ns.topics,
    groupId: options.group ?? ns.group(name),
    ...(options.exactlyOnce ? { exactlyOnce: true } : {}),
    ...(interval !== undefined ? { checkpointInterval: interval } : {}),
    ...(evictIdle !== undefined ? { evictIdleMs: evictIdle } : {}),
    ...(options.stateDir !== undefined ? { stateDir: options.stateDir } : {}),
  };
  try {
    await runUntilStopped({
      name,
      transport,
      logger,
      metrics,
      topics: Object.values(ns.topics),
      start: () => start({ transport, logger, metrics, wiring }),
      signal: stopping.signal,
      ops: {
        port: metricsPort,
        host: options.metricsHost,
        ...(process.env.ACTIVITY_API_KEY ? { apiKey: process.env.ACTIVITY_API_KEY } : {}),
      },
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function consumerRunning(consumer: StreamConsumer): Running {
  return { stop: () => consumer.stop(), details: () => ({ partitions: consumer.assignments() }) };
}

const DEPLOY_TARGETS = ['local', 'container', 'aci'] as const;

function checkDeployTarget(kind: string): void {
  if (!(DEPLOY_TARGETS as readonly string[]).includes(kind))
    throw new InvalidOptionError(
      `--target (env DEPLOY_TARGET) is "${kind}"; choose ${DEPLOY_TARGETS.slice(0, -1).join(', ')} or ${DEPLOY_TARGETS.at(-1)}`,
    );
}

/** The target, and what closes it and whatever it was given (the container target's registry). */
function deployTarget(kind: string, logger: Logger): { target: DeployTarget; close(): Promise<void> } {
  checkDeployTarget(kind);
  if (kind === 'aci') {
    const target = new AciTarget({ ...aciOptionsFromEnv(), logger });
    return { target, close: () => target.close() };
  }
  if (kind === 'container') {
    // Versions are exported from the registry the retrainer writes (embedded or MLflow) into the mounted folder.
    const backend = createTrackingBackend();
    const target = new ContainerTarget({ ...containerOptionsFromEnv(), registry: backend.registry, logger });
    return {
      target,
      close: async () => {
        await target.close();
        await backend.close();
      },
    };
  }
  const target = new LocalTarget({ trackingDir: process.env[TRACKING_ENV.dir] ?? '.data/tracking', logger });
  return { target, close: () => target.close() };
}

/** One subcommand per consumer, for a deployment with one process per consumer (docs/operations.md). */
export function addServiceCommands(program: Command): void {
  const global = () => program.opts<GlobalOptions>();
  const common = (c: Command) =>
    c
      .option('--group <id>', 'consumer group id (default activity-tracking-<component>)')
      .option(
        '--metrics-port <port>',
        'port of /metrics and /healthz (0: any free port)',
        process.env.METRICS_PORT ?? '0',
      )
      .option('--metrics-host <host>', 'bind address of /metrics; beyond loopback needs ACTIVITY_API_KEY', '127.0.0.1');
  const stateful = (c: Command) =>
    common(c)
      .option('--exactly-once', 'Kafka transactions: outputs, state checkpoints and offsets commit together')
      .option('--checkpoint-interval <n>', 'input records per partition between state checkpoints', '1000')
      .option(
        '--evict-idle <duration>',
        'streams idle this long (30s, 5m, 1h) and checkpointed leave memory for the spill directory; off keeps them (env EVICT_IDLE)',
        process.env.EVICT_IDLE ?? '5m',
      )
      .option(
        '--state-dir <dir>',
        'spill directory of evicted streams, a cache cleared at start (env STATE_DIR; default: a temporary folder)',
        process.env.STATE_DIR,
      );

  stateful(program.command('featurizer').description('run the featurizer: sensor-readings in, features out'))
    .option(
      '--vector-encoding <encoding>',
      `body of the feature vectors, ${VECTOR_ENCODINGS.join(' or ')}: json for readers that predate the binary body (env VECTOR_ENCODING)`,
      process.env.VECTOR_ENCODING ?? 'binary',
    )
    .action((o: ServiceOptions & { vectorEncoding: string }) => {
      // Checked before the transport connects: a typo should not wait for a broker first.
      const encoding = vectorEncoding(o.vectorEncoding, '--vector-encoding (env VECTOR_ENCODING)');
      return runService('featurizer', global(), o, async ({ wiring }) => {
        const { consumer } = featurizerConsumer(wiring, { vectorEncoding: encoding });
        await consumer.start();
        return consumerRunning(consumer);
      });
    });

  stateful(program.command('detector').description('run the drift detector: features in, drift events out')).action(
    (o: ServiceOptions) =>
      runService('drift-detector', global(), o, async ({ wiring }) => {
        const { consumer } = driftDetectorConsumer(wiring);
        await consumer.start();
        return consumerRunning(consumer);
      }),
  );

  common(
    program.command('retrainer').description('run the retrainer: drift events in, model versions and model events out'),
  )
    .option('--quick', 'train the quick candidates only (k-NN, linear SVM)')
    .option('--quiet-ms <ms>', 'a burst ends after this long without drift events', '2000')
    .option('--max-wait-ms <ms>', 'or this long after it began', '8000')
    .option('--alpha <p>', "the gate's significance level (McNemar, one-sided)", '0.05')
    .option('--follow-ups <n>', 'retrainings as post-drift data grows, after each drift retraining', '10')
    .option('--no-calibrate', 'do not fit device calibrations after a drift (docs/calibration.md)')
    .action(
      (
        o: ServiceOptions & {
          quick?: boolean;
          quietMs: string;
          maxWaitMs: string;
          alpha: string;
          followUps: string;
          calibrate: boolean;
        },
      ) =>
        runService('retrainer', global(), o, async ({ transport, logger, metrics, wiring }) => {
          const backend = createTrackingBackend();
          const retrainer = new RetrainerConsumer({
            transport,
            backend,
            trainer: candidateTrainer(o.quick ? QUICK_CANDIDATES : DEFAULT_CANDIDATES),
            quietMs: Number(o.quietMs),
            maxWaitMs: Number(o.maxWaitMs),
            alpha: Number(o.alpha),
            followUps: Number(o.followUps),
            calibrate: o.calibrate,
            logger,
            metrics,
            ...(wiring.topics ? { topics: wiring.topics } : {}),
            ...(wiring.groupId ? { groupId: wiring.groupId } : {}),
          });
          await retrainer.start();
          return {
            stop: async () => {
              await retrainer.stop();
              await backend.close();
            },
            details: () => ({ retrainings: retrainer.outcomes.length, calibrations: retrainer.calibrations.length }),
          };
        }),
    );

  common(
    program.command('deployer').description('run the deployer: model events in, deployments and deployment events out'),
  )
    .option(
      '--target <kind>',
      'local (a serving process per version), container (the serving image, locally with podman or docker) or aci (Azure Container Instances)',
      process.env.DEPLOY_TARGET ?? 'local',
    )
    .action((o: ServiceOptions & { target: string }) => {
      // Checked before the transport connects: a typo should not wait for a broker first.
      checkDeployTarget(o.target);
      return runService('deployer', global(), o, async ({ wiring, logger }) => {
        const { target, close } = deployTarget(o.target, logger);
        const { consumer } = deployerConsumer(wiring, { target });
        await consumer.start();
        return {
          stop: async () => {
            await consumer.stop();
            await close();
          },
          details: () => ({ serving: target.current() }),
        };
      });
    });

  common(
    program
      .command('predictor')
      .description('run the predictor: features in, predictions and concept-drift events out'),
  ).action((o: ServiceOptions) =>
    runService('predictor', global(), o, ({ transport, wiring, logger }) =>
      startPredictor({ transport, wiring, logger, backend: createTrackingBackend() }),
    ),
  );
}

/**
 * The predictor service: a switcher following every deployment, and the predictor scoring with the version
 * it switched to. Until a first version is deployed the predictor waits quietly (consumers/predictor/):
 * /readyz says not ready, and `activity_predictor_waiting_for_model` is 1.
 */
export async function startPredictor(ctx: {
  transport: Transport;
  wiring: ConsumerWiring;
  logger: Logger;
  backend: TrackingBackend;
}): Promise<Running> {
  const { transport, wiring, logger, backend } = ctx;
  const handle = new ModelHandle(registryModelSource(backend.registry));
  // Every instance follows every deployment.
  const switcher = new StreamConsumer({
    component: 'model-switcher',
    transport,
    groupId: `${wiring.groupId ?? 'activity-tracking-predictor'}-switcher`,
    broadcast: true,
    topics: [(wiring.topics ?? TOPICS).deploymentEvents],
    processor: new ModelSwitcher(handle, logger),
    logger,
  });
  await switcher.start();
  const { consumer } = predictorConsumer(wiring, { handle, logger });
  await consumer.start();
  return {
    stop: async () => {
      await consumer.stop();
      await switcher.stop();
    },
    ready: () => handle.current() !== null,
    details: () => {
      const version = handle.current()?.ref.version ?? null;
      return {
        partitions: consumer.assignments(),
        version,
        ...(version === null
          ? { waitingForModel: 'no version deployed yet; activity-tracking bootstrap trains one' }
          : {}),
      };
    },
  };
}
