import { writeFileSync } from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { ReadingsEncoding } from '../../producers/readings-producer.ts';
import { type Injection, parseInjection } from '../../producers/replay/inject.ts';
import { checkPhoneForm, type PhoneForm } from '../../producers/replay/phone.ts';
import { checkRejections, type RejectionReport } from '../../producers/replay/rejections.ts';
import { replay } from '../../producers/replay/replay.ts';
import { loadRecordings } from '../data/hapt.ts';
import { ActivityTrackingError } from '../errors.ts';
import { createLogger } from '../log/logger.ts';
import { collectReport } from '../report/collect.ts';
import { renderReport } from '../report/html.ts';
import { decodeEvent } from '../schemas/cloudevents.ts';
import { EVENT_TYPES } from '../schemas/registry.ts';
import { createTrackingBackend } from '../tracking/index.ts';
import { createTransport } from '../transport/index.ts';
import { readTopic } from '../transport/read.ts';
import {
  cliNamespace,
  DEFAULT_DATA,
  type GlobalOptions,
  milliseconds,
  positiveInt,
  positiveNumber,
  seconds as secondsArg,
  speed as speedArg,
} from './options.ts';
import { promoteVersion } from './promote.ts';
import { oneShotTransport, requireSharedLog } from './transport.ts';

const print = (line: string) => process.stdout.write(`${line}\n`);

/** A drift spec checked while the command line is parsed, so a typo is a usage error (exit 2). */
function injectionArg(value: string): Injection {
  try {
    return parseInjection(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function runIdArg(value: string): string {
  if (!RUN_ID.test(value))
    throw new InvalidArgumentError(
      'must be 1 to 64 letters, digits, dots, dashes or underscores, not starting with a sign',
    );
  return value;
}

/** A run id unique to this run: the start time in base 36 and a random tail (`mh2k9x1a-3f`). */
function newRunId(): string {
  return `${Date.now().toString(36)}-${Math.floor(Math.random() * 36 ** 2)
    .toString(36)
    .padStart(2, '0')}`;
}

/** The lines replay prints about its dead letters; throws when the featurizer refused some of the run's readings. */
function reportRejections(r: RejectionReport, o: { group: string; messages: number; waited: number }): string {
  const counts = Object.entries(r.reasons)
    .map(([reason, n]) => `${reason}: ${n.toLocaleString('en')}`)
    .join(', ');
  if (r.rejected > 0) {
    const from = r.deadLettersFrom.map((offset, p) => `partition ${p} offset ${offset}`).join(', ');
    throw new ActivityTrackingError(
      'RECORD_REJECTED',
      `the featurizer dead-lettered ${r.rejected.toLocaleString('en')} of this run's ${o.messages.toLocaleString('en')} messages (${counts}), for example: ${r.example}. ` +
        `They are on the dead-letter topic from ${from} on. Replaying phones the featurizer already knows needs a new --run-id (the default is new on every run).`,
      { context: { rejected: r.rejected, reasons: r.reasons } },
    );
  }
  if (r.status === 'caught-up')
    return `featurizer (group ${o.group}) read all ${o.messages.toLocaleString('en')} messages: none dead-lettered`;
  if (r.status === 'no-reader')
    return `dead letters not checked: the featurizer group ${o.group} has read nothing of sensor-readings yet (start the featurizer, or name its group with --featurizer-group)`;
  return `dead letters not final: the featurizer (group ${o.group}) had not read ${r.unread.toLocaleString('en')} of this run's messages after ${o.waited.toFixed(0)} s; none dead-lettered so far (docs/operations.md, "Replaying phones")`;
}

/** replay, models, runs, deployments, report: the CLI's tools around the consumers. */
export function addToolCommands(program: Command): void {
  const global = () => program.opts<GlobalOptions>();

  program
    .command('replay')
    .description('stream HAPT recordings into sensor-readings as concurrent phones (optionally with an injected drift)')
    .addOption(new Option('--split <which>', 'train or test users').choices(['train', 'test']).default('test'))
    .option('--data <which>', 'sample (bundled) or shared (../shared/data/har)', DEFAULT_DATA())
    .option('--loops <n>', 'passes over each phone’s recordings', positiveInt, 1)
    .option('--speed <factor>', 'multiple of real time, or max', speedArg, 1)
    .option('--sequential', 'one phone after another instead of all at once')
    .option(
      '--drift <spec>',
      'inject a drift: rotation:z:45, bias:acc:0.2,0,0, gain:gyro:1.5, noise:acc:0.05, sample-rate:40, lowpass:8',
      injectionArg,
    )
    .option(
      '--drift-at <seconds>',
      'when the drift starts, in seconds of each phone’s stream (sample time, not wall time; default: the second loop)',
      secondsArg,
    )
    .option(
      '--run-id <id>',
      'names this run’s phones <id>-user-NN; the featurizer refuses a phone whose sequence starts again, so a run id is used once (default: new on every run)',
      runIdArg,
    )
    .option(
      '--rate <hz>',
      'samples per second each phone sends (the recordings are resampled; not 50: timed readings v2)',
      positiveNumber,
    )
    .option(
      '--jitter-ms <ms>',
      'each sample taken up to this many ms off its nominal instant, and stamped so (timed readings v2)',
      milliseconds,
    )
    .option(
      '--split-sensors',
      'accelerometer and gyroscope in separate messages, each on its own clock (timed readings v2)',
    )
    .option(
      '--gap-ms <ms>',
      'a silence this long every --gap-every seconds of stream, as an app in the background (timed readings v2)',
      milliseconds,
    )
    .option('--gap-every <seconds>', 'how often the silence of --gap-ms comes', positiveNumber, 60)
    .addOption(
      new Option('--encoding <body>', 'readings bodies: binary (float64, exact) or json (docs/schemas.md)')
        .choices(['binary', 'json'])
        .default('binary'),
    )
    .option(
      '--check-timeout <seconds>',
      'how long to wait, after sending, for the featurizer to read the run and count its dead letters; 0 skips the check',
      secondsArg,
      60,
    )
    .option(
      '--featurizer-group <id>',
      'the featurizer’s consumer group, whose progress the check waits for (default activity-tracking-featurizer, under --topic-prefix <prefix>.activity-tracking-featurizer)',
    )
    .action(
      async (o: {
        split: 'train' | 'test';
        data: 'sample' | 'shared';
        loops: number;
        speed: number | 'max';
        sequential?: boolean;
        drift?: Injection;
        driftAt?: number;
        runId?: string;
        checkTimeout: number;
        featurizerGroup?: string;
        rate?: number;
        jitterMs?: number;
        splitSensors?: boolean;
        gapMs?: number;
        gapEvery: number;
        encoding: ReadingsEncoding;
      }) => {
        const phone: PhoneForm = {
          ...(o.rate !== undefined ? { rate: o.rate } : {}),
          ...(o.jitterMs !== undefined ? { jitterMs: o.jitterMs } : {}),
          ...(o.splitSensors ? { splitSensors: true } : {}),
          ...(o.gapMs !== undefined ? { gapMs: o.gapMs, gapEverySeconds: o.gapEvery } : {}),
        };
        // Checked before the transport connects: a bad form should not wait for a broker first.
        checkPhoneForm(phone);
        const logger = createLogger({ level: global().logLevel });
        const ns = cliNamespace(global());
        const featurizerGroup = o.featurizerGroup ?? ns.group('featurizer');
        requireSharedLog(global().transport, 'replay', 'no consumer would read what it sends');
        const transport = createTransport(global().transport, { logger });
        try {
          const producer = await transport.producer();
          const injection = o.drift;
          const runId = o.runId ?? newRunId();
          const check = o.checkTimeout > 0;
          // Dead letters older than the run are not its own.
          const deadLettersFrom = check ? await transport.endOffsets(ns.topics.deadLetter) : [];
          const sentFrom = check ? await transport.endOffsets(ns.topics.sensorReadings) : [];
          const stats = await replay(producer, {
            devicePrefix: `${runId}-`,
            topic: ns.topics.sensorReadings,
            encoding: o.encoding,
            phone,
            recordings: loadRecordings(o.split, o.data),
            loops: o.loops,
            speed: o.speed,
            mode: o.sequential ? 'sequential' : 'interleaved',
            ...(injection
              ? { drift: o.driftAt !== undefined ? { atSeconds: o.driftAt, injection } : { fromLoop: 1, injection } }
              : {}),
            onProgress: (sent, total) => {
              if (process.stdout.isTTY)
                process.stdout.write(
                  `\r  ${((100 * sent) / total).toFixed(0).padStart(3)} % of ${total.toLocaleString('en')} samples`,
                );
            },
          });
          if (process.stdout.isTTY) process.stdout.write('\n');
          await producer.close();
          print(
            `${stats.devices} phones, ${stats.samples.toLocaleString('en')} samples in ${stats.seconds.toFixed(1)} s (${Math.round(stats.samplesPerSecond).toLocaleString('en')} samples/s), run ${runId}: ${stats.deviceIds.join(', ')}`,
          );
          if (check) {
            const started = performance.now();
            const report = await checkRejections(transport, {
              devices: new Set(stats.deviceIds),
              sentFrom,
              sentUpTo: await transport.endOffsets(ns.topics.sensorReadings),
              deadLettersFrom,
              group: featurizerGroup,
              topics: ns.topics,
              timeoutMs: o.checkTimeout * 1000,
            });
            const waited = (performance.now() - started) / 1000;
            print(reportRejections(report, { group: featurizerGroup, messages: stats.messages, waited }));
          }
        } finally {
          await transport.close();
        }
      },
    );

  program
    .command('models')
    .description(
      'list the versions of a registered model: aliases, the gate’s decision, the run (TRACKING_DIR or MLFLOW_TRACKING_URI)',
    )
    .option('--model <name>', 'registered model', 'activity-classifier')
    .action(async (o: { model: string }) => {
      const backend = createTrackingBackend();
      for (const v of await backend.registry.listVersions(o.model)) {
        const decision = JSON.parse(v.tags['activity-tracking.decision'] ?? '{}') as { gate?: { reason?: string } };
        print(
          `v${v.version}\t${v.aliases.join(',') || '-'}\t${new Date(v.createdAt).toISOString()}\trun ${v.runId}\t${decision.gate?.reason ?? ''}`,
        );
      }
    });

  program
    .command('promote')
    .description(
      'make a version the champion and tell the deployer (a manual promotion, or a rollback to an earlier version)',
    )
    .requiredOption('--version <n>', 'the version to put in production', positiveInt)
    .option('--model <name>', 'registered model', 'activity-classifier')
    .action(async (o: { version: number; model: string }) => {
      requireSharedLog(global().transport, 'promote', 'no deployer would hear of it');
      const backend = createTrackingBackend();
      const transport = oneShotTransport(global(), 'promote');
      try {
        const { version, previous } = await promoteVersion(backend.registry, transport, {
          ...o,
          topic: cliNamespace(global()).topics.modelEvents,
        });
        print(
          `v${version.version} of ${o.model} is the champion (was ${previous ? `v${previous.version}` : 'none'}); the deployer deploys it`,
        );
      } finally {
        await transport.close();
        await backend.close();
      }
    });

  program
    .command('runs')
    .description('list the runs of an experiment, newest first, with their main metrics')
    .option('--experiment <name>', 'experiment', 'activity-retraining')
    .action(async (o: { experiment: string }) => {
      const { tracker } = createTrackingBackend();
      for (const r of await tracker.searchRuns(await tracker.experiment(o.experiment), { maxResults: 100 })) {
        const m = ['accuracy', 'macroF1'].filter((k) => k in r.metrics).map((k) => `${k} ${r.metrics[k].toFixed(4)}`);
        print(`${r.runId}\t${r.status}\t${r.name}\t${m.join(' ')}`);
      }
    });

  program
    .command('deployments')
    .description('list the deployment events on the transport')
    .action(async () => {
      const transport = oneShotTransport(global(), 'deployments');
      try {
        for await (const r of readTopic(transport, cliNamespace(global()).topics.deploymentEvents)) {
          const e = decodeEvent(r.headers, r.value, { accept: [EVENT_TYPES.deployment] });
          print(
            `${e.attributes.time}\t${e.data.model} v${e.data.version}\t${e.data.event}\t${e.data.target}\t${e.data.endpoint ?? ''}\t${e.data.reason ?? ''}`,
          );
        }
      } finally {
        await transport.close();
      }
    });

  program
    .command('report')
    .description('write the HTML report of what the topics and the registry hold now')
    .option('--model <name>', 'registered model', 'activity-classifier')
    .option('--out <file>', 'where to write it', 'report.html')
    .action(async (o: { model: string; out: string }) => {
      const transport = oneShotTransport(global(), 'report');
      try {
        const data = await collectReport(transport, createTrackingBackend(), cliNamespace(global()).topics, {
          model: o.model,
          facts: { transport: transport.kind },
        });
        writeFileSync(o.out, renderReport(data));
        print(`report: ${o.out}`);
      } finally {
        await transport.close();
      }
    });
}
