import { InvalidOptionError } from '../errors.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import { createTransport, type Transport } from '../transport/index.ts';

/**
 * The transport of a command when neither `--transport` nor `TRANSPORT` names one (docs/configuration.md):
 * Kafka when `KAFKA_BROKERS` is set, so that exporting the brokers is the one way of saying Kafka; the
 * embedded log otherwise. `run` keeps the embedded log unless told: it is the loop that needs no
 * infrastructure, and on a broker it makes topics and groups for every run.
 */
export function defaultTransport(command: string, env: NodeJS.ProcessEnv): string {
  if (env.TRANSPORT) return env.TRANSPORT;
  if (command !== 'run' && env.KAFKA_BROKERS) return 'kafka';
  return 'embedded';
}

/**
 * Refuses the embedded log for a command that works on the topics other processes share: that log lives
 * only inside this process, so no topic of it was ever created, and what the command wrote would be gone
 * when it exits.
 */
export function requireSharedLog(kind: string, command: string, consequence = 'it would see no topics'): void {
  if (kind !== 'embedded') return;
  throw new InvalidOptionError(
    `${command} works on the topics other processes share, and the embedded log lives only inside this process: ${consequence}; set KAFKA_BROKERS (the CLI then uses Kafka) or choose --transport kafka or eventhubs (env TRANSPORT)`,
  );
}

/**
 * Kafka connection and metadata retries of a command that does one thing and exits (`topics create`,
 * `promote`, `deployments`, `report`): about 2 s when the brokers refuse connections, instead of the
 * 35 s a long-running consumer spends riding out a broker restart. KAFKA_RETRIES still wins.
 */
export const ONE_SHOT_KAFKA_RETRIES = 3;

const QUIET_ENOUGH = new Set(['error', 'fatal', 'silent', 'debug', 'trace']);

/**
 * The transport of a one-shot command on a shared log. Its client logs errors only (all of it at
 * debug and trace): a broker that is down is the command's one-line error and exit 69, not a retry
 * log per attempt before it.
 */
export function oneShotTransport(global: { transport: string; logLevel: string }, command: string): Transport {
  requireSharedLog(global.transport, command);
  const logger: Logger = createLogger({ level: QUIET_ENOUGH.has(global.logLevel) ? global.logLevel : 'error' });
  return createTransport(global.transport, { logger, kafkaDefaults: { retries: ONE_SHOT_KAFKA_RETRIES } });
}
