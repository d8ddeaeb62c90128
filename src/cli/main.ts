import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { parseInjection } from '../../producers/replay/inject.ts';
import { InvalidOptionError } from '../errors.ts';
import { TOKEN_SECRET_ENV } from '../gateway/auth.ts';
import { createLogger } from '../log/logger.ts';
import { redactText } from '../log/redact.ts';
import { topicSpecs } from '../topics.ts';
import { createTrackingBackend, trackingSecrets } from '../tracking/index.ts';
import { createTransport, TRANSPORT_KINDS } from '../transport/index.ts';
import { addBootstrapCommand } from './bootstrap.ts';
import { addDashboardCommands } from './dashboard.ts';
import { describeError, EXIT, exitCodeOf } from './exit.ts';
import { addGatewayCommands } from './gateway.ts';
import { printMainJobSummary, runMainJob } from './main-job.ts';
import {
  checkGlobalOptions,
  cliNamespace,
  DEFAULT_DATA,
  type GlobalOptions,
  port,
  positiveInt,
  positiveNumber,
  share,
} from './options.ts';
import { addServiceCommands } from './services.ts';
import { addToolCommands } from './tools.ts';
import { defaultTransport, oneShotTransport } from './transport.ts';

/** A port option of `run`, refused as a usage error (exit 2) before anything runs. */
function portArg(value: string): number {
  try {
    return port('--dashboard-port', value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** A drift spec, checked before anything runs (a bad one used to fail only after the first model was deployed). */
function driftSpec(value: string): string {
  try {
    parseInjection(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return value;
}

function buildProgram(): Command {
  const program = new Command()
    .name('activity-tracking')
    .description('Streaming MLOps for activity recognition: featurize, detect drift, retrain, deploy, predict.')
    .option(
      '--transport <kind>',
      `transport: ${TRANSPORT_KINDS.join(' | ')} (env TRANSPORT; default: kafka when KAFKA_BROKERS is set, except for run, else embedded)`,
    )
    .option('--log-level <level>', 'pino log level (env LOG_LEVEL)', process.env.LOG_LEVEL ?? 'info')
    .option(
      '--topic-prefix <prefix>',
      'namespace of the topics and default consumer groups (<prefix>.features, ...): several pipelines on one cluster (env TOPIC_PREFIX)',
      process.env.TOPIC_PREFIX,
    )
    .showHelpAfterError()
    // Commander throws instead of exiting, so that main() gives usage errors their own exit code (2).
    // Set before the subcommands are added: they inherit it.
    .exitOverride();
  // Every subcommand reads the global options; a bad one is refused before any of them starts. The
  // transport's default depends on the command (src/cli/transport.ts), so it is settled here.
  program.hook('preAction', (_program, action) => {
    if (program.opts().transport === undefined)
      program.setOptionValueWithSource('transport', defaultTransport(action.name(), process.env), 'default');
    checkGlobalOptions(program.opts<GlobalOptions>());
  });

  program
    .command('run')
    .description(
      'the whole loop with no infrastructure: train and serve a first model, stream the test phones with a drift, detect it, retrain, promote, switch, report',
    )
    .option(
      '--drift <spec>',
      'drift injected into each test phone from --drift-at on: rotation:x|y|z:DEG, bias:acc|gyro:X,Y,Z, gain:..., noise:..., sample-rate:HZ, lowpass:HZ',
      driftSpec,
      'rotation:z:45',
    )
    .option('--drift-at <share>', "where each test phone's drift begins, as a share of its samples", share, 0.5)
    .option('--speed <factor>', 'replay speed of the test phones, a multiple of real time', positiveNumber, 25)
    .option('--partitions <n>', 'partitions of the per-device topics', positiveInt, 3)
    .option('--data <which>', 'sample (bundled) or shared (../shared/data/har, env ACTIVITY_DATA)', DEFAULT_DATA())
    .option('--out <dir>', 'folder for this run: tracking store and report (default .data/runs/<time>)')
    .option('--no-calibrate', 'adapt by retraining only, with no device calibration (docs/calibration.md)')
    .option('--dashboard-port <port>', 'port of the live dashboard on 127.0.0.1 (0: any free port)', portArg, 0)
    .option('--no-dashboard', 'run without the live dashboard')
    .action(
      async (options: {
        calibrate: boolean;
        dashboard: boolean;
        dashboardPort: number;
        drift: string;
        driftAt: number;
        speed: number;
        partitions: number;
        data: 'sample' | 'shared';
        out?: string;
      }) => {
        const global = program.opts<GlobalOptions>();
        const logger = createLogger({ level: global.logLevel === 'info' ? 'warn' : global.logLevel });
        if (global.transport === 'eventhubs')
          throw new InvalidOptionError(
            'the main job makes topics and consumer groups for each run, which Event Hubs only creates through its control plane; run it on the embedded log or Kafka, and on Event Hubs run each consumer (docs/eventhubs.md)',
          );
        const out = path.resolve(
          options.out ?? path.join('.data', 'runs', new Date().toISOString().replace(/[:.]/g, '-')),
        );
        const transport = createTransport(global.transport, { logger });
        // MLFLOW_TRACKING_URI selects a real MLflow server; otherwise a fresh embedded store for this run.
        const backend = createTrackingBackend({ dir: path.join(out, 'tracking') });
        const print = (line: string) => process.stdout.write(`${line}\n`);
        // Ctrl-C or SIGTERM: the run stops at its next second of stream and tears everything down
        // (serving processes included) before the process exits.
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          const summary = await runMainJob(
            transport,
            backend,
            {
              data: options.data,
              drift: options.drift,
              driftAt: options.driftAt,
              speed: options.speed,
              retrainer: { calibrate: options.calibrate },
              signal: stop.signal,
              partitions: options.partitions,
              ...(options.dashboard
                ? {
                    dashboard: {
                      port: options.dashboardPort,
                      ...(process.env.MLFLOW_TRACKING_URI ? { mlflowUri: process.env.MLFLOW_TRACKING_URI } : {}),
                    },
                  }
                : {}),
              ...(global.topicPrefix ? { topics: cliNamespace(global).topics } : {}),
              reportPath: path.join(out, 'report.html'),
              // On a shared MLflow server each run registers its own model: the embedded log's offsets
              // start again at 0 every run, and versions record the offsets they were trained on.
              ...(process.env.MLFLOW_TRACKING_URI ? { model: `activity-classifier-${path.basename(out)}` } : {}),
              registry: process.env.MLFLOW_TRACKING_URI
                ? { trackingUri: process.env.MLFLOW_TRACKING_URI }
                : { trackingDir: path.join(out, 'tracking') },
            },
            logger,
            print,
          );
          printMainJobSummary(summary, print);
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          await transport.close();
          await backend.close();
        }
      },
    );

  program
    .command('serve')
    .description(
      'serve a model version over HTTP (POST /score, /healthz, /readyz, /metrics); env as in docs/deployment.md',
    )
    .requiredOption('--model <name>', 'registered model name (env MODEL_NAME)', process.env.MODEL_NAME)
    .requiredOption('--version <n>', 'model version (env MODEL_VERSION)', process.env.MODEL_VERSION)
    .requiredOption(
      '--artifact <dir>',
      'artifact directory <dir>/<name>/<version>/model.json (env MODEL_DIR)',
      process.env.MODEL_DIR,
    )
    .option(
      '--host <host>',
      'bind address (env SERVING_HOST); beyond loopback needs SERVING_API_KEY',
      process.env.SERVING_HOST ?? '127.0.0.1',
    )
    .option('--port <port>', 'port (env SERVING_PORT)', process.env.SERVING_PORT ?? '8080')
    .action(async (options: { model: string; version: string; artifact: string; host: string; port: string }) => {
      const { serveFromEnv } = await import('../serving/main.ts');
      const server = await serveFromEnv({
        ...process.env,
        MODEL_NAME: options.model,
        MODEL_VERSION: options.version,
        MODEL_DIR: options.artifact,
        SERVING_HOST: options.host,
        SERVING_PORT: options.port,
      });
      process.stdout.write(`${JSON.stringify({ ready: true, url: server.url, digest: server.model.digest })}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      await server.close();
    });

  addServiceCommands(program);
  addGatewayCommands(program);
  addDashboardCommands(program);
  addToolCommands(program);
  addBootstrapCommand(program);

  const topics = program.command('topics').description('manage the topics of the system');
  topics
    .command('create')
    .description('create every topic the consumers use (idempotent)')
    .option('--partitions <n>', 'partitions of the per-device topics', positiveInt, 6)
    .action(async (options: { partitions: number }) => {
      const global = program.opts<GlobalOptions>();
      const logger = createLogger({ level: global.logLevel });
      const transport = oneShotTransport(global, 'topics create');
      const ns = cliNamespace(global);
      const specs = topicSpecs(options.partitions, ns.topics, ns);
      try {
        await transport.ensureTopics(specs);
        logger.info({ topics: specs.map((t) => t.topic) }, 'topics ready');
      } finally {
        await transport.close();
      }
    });
  return program;
}

/** Runs the CLI; every error becomes its exit code here, and nowhere else (src/cli/exit.ts). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    const level = program.opts<{ logLevel?: string }>().logLevel ?? process.env.LOG_LEVEL;
    // A message may quote a URI from the environment (MLFLOW_TRACKING_URI with credentials).
    process.stderr.write(
      redactText(describeError(err, level === 'debug' || level === 'trace'), [
        ...trackingSecrets(),
        process.env[TOKEN_SECRET_ENV],
      ]),
    );
    return exitCodeOf(err);
  }
}
