import { ServiceUnavailableError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type { PipelineMetrics } from '../metrics/metrics.ts';
import { type OpsServer, startOpsServer } from '../ops/server.ts';
import type { Transport } from '../transport/types.ts';
import { waitForTopics } from './topic-wait.ts';

/** A started consumer, as the run loop sees it. */
export interface Running {
  stop(): Promise<void>;
  /** Partitions or other facts for /healthz. */
  details(): Record<string, unknown>;
  /** What /readyz reports once started (the gateway: false while it drains). @defaultValue always ready */
  ready?: () => boolean;
}

export interface ServiceRunOptions {
  /** Component name, in /healthz and the log lines. */
  name: string;
  transport: Transport;
  logger: Logger;
  metrics: PipelineMetrics;
  /** The topics that must exist before `start`. */
  topics: readonly string[];
  /** Starts the consumer once the topics exist. */
  start: () => Promise<Running>;
  /** Aborted on SIGTERM or SIGINT: the run stops, whether it waits for topics or runs. */
  signal: AbortSignal;
  ops: { port: number; host: string; apiKey?: string };
  /** Told the operations URLs once they answer (tests read them). */
  onListening?: (urls: { metrics: string; health: string; ready: string }) => void;
  /** @defaultValue 1000 */
  topicPollMs?: number;
  /** How long a stop may take before the run fails (exit 69). @defaultValue 30_000 */
  stopBoundMs?: number;
}

/**
 * Runs one long-running consumer until `signal`: /metrics, /healthz and /readyz answer from the start;
 * a consumer whose topics do not exist yet waits for them there, alive and not ready
 * (src/cli/topic-wait.ts), and starts once they do. On the signal the running batch finishes and
 * commits (or, cut short, stays uncommitted and is redelivered), then the group is left.
 */
export async function runUntilStopped(o: ServiceRunOptions): Promise<void> {
  const { name, transport, logger, signal } = o;
  const stopBoundMs = o.stopBoundMs ?? 30_000;
  let running: Running | undefined;
  let missing: readonly string[] = [];
  let ops: OpsServer | undefined;
  try {
    ops = await startOpsServer({
      metrics: o.metrics,
      health: () => ({
        ok: true,
        ready: running !== undefined && (running.ready?.() ?? true),
        details: {
          component: name,
          transport: transport.kind,
          ...(running ? running.details() : { waitingForTopics: missing }),
        },
      }),
      port: o.ops.port,
      host: o.ops.host,
      ...(o.ops.apiKey ? { apiKey: o.ops.apiKey } : {}),
      logger,
    });
    const urls = { metrics: `${ops.url}/metrics`, health: `${ops.url}/healthz`, ready: `${ops.url}/readyz` };
    o.onListening?.(urls);
    const topicsExist = await waitForTopics(transport, o.topics, {
      logger,
      signal,
      onMissing: (topics) => {
        missing = topics;
      },
      context: urls,
      ...(o.topicPollMs !== undefined ? { pollMs: o.topicPollMs } : {}),
    });
    if (topicsExist) {
      running = await o.start();
      logger.info(urls, `${name} running; Ctrl-C stops it cleanly`);
      if (!signal.aborted)
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    }
  } catch (err) {
    // Nothing started, or a consumer that failed to start: close what is open, so that the process ends.
    await Promise.allSettled([running?.stop(), ops?.close(), transport.close()]);
    throw err;
  }
  logger.info(`${name} stopping: the running batch finishes, offsets stay consistent`);
  // A stop that hangs (a client library waiting on a peer that is gone) must not keep the process up for
  // good: whatever runs it (systemd, a container) is told by a failing exit code instead.
  const opsServer = ops;
  const stopped = await Promise.race([
    (async () => {
      await running?.stop();
      await opsServer.close();
      await transport.close();
      return true;
    })(),
    new Promise<false>((resolve) => setTimeout(resolve, stopBoundMs, false).unref()),
  ]);
  if (!stopped) {
    logger.error(
      { ms: stopBoundMs },
      `${name} did not stop within the bound; exiting anyway (uncommitted input is redelivered)`,
    );
    throw new ServiceUnavailableError(`${name} did not stop within ${stopBoundMs / 1000} s`);
  }
}
