import { Command, InvalidArgumentError } from 'commander';
import { ActivityTrackingError } from '../errors.ts';
import { createLogger } from '../log/logger.ts';
import { topicSpecs } from '../topics.ts';
import { createTransport, TRANSPORT_KINDS } from '../transport/index.ts';
import { DEFAULT_DATA, printSummary, runLoop } from './run.ts';

/** Exit codes scripts can rely on (docs/configuration.md). */
export const EXIT = { ok: 0, failure: 1, usage: 2, unavailable: 69, config: 78 } as const;

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

export function buildProgram(): Command {
  const program = new Command()
    .name('activity-tracking')
    .description('Streaming MLOps for activity recognition: featurize, detect drift, retrain, deploy, predict.')
    .option(
      '--transport <kind>',
      `transport: ${TRANSPORT_KINDS.join(' | ')} (env TRANSPORT)`,
      process.env.TRANSPORT ?? 'embedded',
    )
    .option('--log-level <level>', 'pino log level (env LOG_LEVEL)', process.env.LOG_LEVEL ?? 'info')
    .showHelpAfterError();

  program
    .command('run')
    .description(
      'run the loop on the bundled sample: replay phones with an injected drift, featurize, detect drift, summarize',
    )
    .option(
      '--drift <spec>',
      'drift injected from the second pass on: rotation:x|y|z:DEG, bias:acc|gyro:X,Y,Z, gain:..., noise:..., sample-rate:HZ',
      'rotation:z:45',
    )
    .option('--passes <n>', 'times each phone replays its recording', positiveInt, 2)
    .option('--speed <factor>', 'replay speed: 1 = real time, or max', 'max')
    .option('--partitions <n>', 'partitions of the per-device topics', positiveInt, 3)
    .option('--data <which>', 'sample (bundled) or shared (../shared/data/har, env ACTIVITY_DATA)', DEFAULT_DATA())
    .action(
      async (options: {
        drift: string;
        passes: number;
        speed: string;
        partitions: number;
        data: 'sample' | 'shared';
      }) => {
        const global = program.opts<{ transport: string; logLevel: string }>();
        const logger = createLogger({ level: global.logLevel === 'info' ? 'warn' : global.logLevel });
        const transport = createTransport(global.transport, { logger });
        const print = (line: string) => process.stdout.write(`${line}\n`);
        try {
          const speed = options.speed === 'max' ? 'max' : Number(options.speed);
          if (speed !== 'max' && !(speed > 0))
            throw new InvalidArgumentError('--speed must be a positive number or max');
          const summary = await runLoop(
            transport,
            { data: options.data, drift: options.drift, loops: options.passes, speed, partitions: options.partitions },
            logger,
            print,
          );
          printSummary(summary, print);
        } finally {
          await transport.close();
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

  const topics = program.command('topics').description('manage the topics of the system');
  topics
    .command('create')
    .description('create every topic the consumers use (idempotent)')
    .option('--partitions <n>', 'partitions of the per-device topics', positiveInt, 6)
    .action(async (options: { partitions: number }) => {
      const global = program.opts<{ transport: string; logLevel: string }>();
      const logger = createLogger({ level: global.logLevel });
      const transport = createTransport(global.transport, { logger });
      try {
        await transport.ensureTopics(topicSpecs(options.partitions));
        logger.info({ topics: topicSpecs(options.partitions).map((t) => t.topic) }, 'topics ready');
      } finally {
        await transport.close();
      }
    });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof ActivityTrackingError) {
      process.stderr.write(`error [${err.code}]: ${err.message}\n`);
      if (err.code === 'INVALID_OPTION') return EXIT.config;
      if (err.code === 'SERVICE_UNAVAILABLE' || err.code === 'TRANSPORT') return EXIT.unavailable;
      return EXIT.failure;
    }
    process.stderr.write(`error: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.failure;
  }
}

process.exitCode = await main(process.argv);
