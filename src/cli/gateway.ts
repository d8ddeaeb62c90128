import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InvalidOptionError } from '../errors.ts';
import { issueDeviceToken, parseTtl, TOKEN_SECRET_ENV } from '../gateway/auth.ts';
import { type GatewayOptions, resolveGatewayOptions } from '../gateway/options.ts';
import { startGateway } from '../gateway/server.ts';
import { TOPICS } from '../topics.ts';
import type { Producer } from '../transport/types.ts';
import { type GlobalOptions, port, positiveInt } from './options.ts';
import { runService } from './services.ts';

interface GatewayCliOptions {
  host: string;
  port: string;
  maxBodyBytes?: number;
  maxInFlight?: number;
  maxConnections?: number;
  publishTimeoutMs?: number;
  tlsCert?: string;
  tlsKey?: string;
  metricsPort: string;
  metricsHost: string;
}

/** Stands in for the producer while the options are checked, before any broker is contacted. */
const NO_PRODUCER: Producer = {
  publish: () => Promise.reject(new Error('not connected')),
  close: () => Promise.resolve(),
};

/** A PEM file of the TLS pair, read at start: a path that cannot be read is an option error (exit 78), not a crash. */
function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new InvalidOptionError(`${flag}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? err})`, {
      cause: err,
    });
  }
}

/** Both files or neither: a certificate without its key (or the reverse) would silently serve plain HTTP. */
function tlsOptions(o: GatewayCliOptions): Pick<GatewayOptions, 'tls'> {
  if (o.tlsCert === undefined && o.tlsKey === undefined) return {};
  if (o.tlsCert === undefined || o.tlsKey === undefined)
    throw new InvalidOptionError(
      `give both --tls-cert (env GATEWAY_TLS_CERT) and --tls-key (env GATEWAY_TLS_KEY), or neither for plain HTTP; only ${o.tlsCert === undefined ? '--tls-key' : '--tls-cert'} is set`,
    );
  return {
    tls: {
      cert: readPem('--tls-cert (env GATEWAY_TLS_CERT)', o.tlsCert),
      key: readPem('--tls-key (env GATEWAY_TLS_KEY)', o.tlsKey),
    },
  };
}

function gatewayOptions(o: GatewayCliOptions): Omit<GatewayOptions, 'producer'> {
  const secret = process.env[TOKEN_SECRET_ENV];
  return {
    host: o.host,
    port: port('--port (env GATEWAY_PORT)', o.port),
    ...(secret ? { tokenSecret: secret } : {}),
    ...tlsOptions(o),
    ...(o.maxBodyBytes !== undefined ? { maxBodyBytes: o.maxBodyBytes } : {}),
    ...(o.maxInFlight !== undefined ? { maxInFlight: o.maxInFlight } : {}),
    ...(o.maxConnections !== undefined ? { maxConnections: o.maxConnections } : {}),
    ...(o.publishTimeoutMs !== undefined ? { publishTimeoutMs: o.publishTimeoutMs } : {}),
  };
}

/** `gateway` (the phone ingest gateway) and `devices token` (its credentials); docs/gateway.md. */
export function addGatewayCommands(program: Command): void {
  const global = () => program.opts<GlobalOptions>();

  program
    .command('gateway')
    .description(
      `phone ingest gateway: POST /v1/readings (JSON or binary) published to sensor-readings; devices authenticate with tokens signed by ${TOKEN_SECRET_ENV}`,
    )
    .option(
      '--host <host>',
      `bind address (env GATEWAY_HOST); beyond loopback needs ${TOKEN_SECRET_ENV}`,
      process.env.GATEWAY_HOST ?? '127.0.0.1',
    )
    .option('--port <port>', 'port (env GATEWAY_PORT; 0: any free port)', process.env.GATEWAY_PORT ?? '8090')
    .option(
      '--tls-cert <file>',
      'serve HTTPS and WSS with this certificate chain, PEM (env GATEWAY_TLS_CERT; with --tls-key)',
      process.env.GATEWAY_TLS_CERT || undefined,
    )
    .option(
      '--tls-key <file>',
      'the private key of --tls-cert, PEM, unencrypted (env GATEWAY_TLS_KEY)',
      process.env.GATEWAY_TLS_KEY || undefined,
    )
    .option('--max-body-bytes <n>', 'largest request body (default 524288)', positiveInt)
    .option('--max-in-flight <n>', 'batches awaiting the broker before 429 (default 4096)', positiveInt)
    .option('--max-connections <n>', 'open connections (default 4096)', positiveInt)
    .option('--publish-timeout-ms <n>', 'answer 503 when the broker takes longer (default 10000)', positiveInt)
    .option(
      '--metrics-port <port>',
      'port of /metrics, /healthz and /readyz (0: any free port)',
      process.env.METRICS_PORT ?? '0',
    )
    .option('--metrics-host <host>', 'bind address of /metrics; beyond loopback needs ACTIVITY_API_KEY', '127.0.0.1')
    .action((o: GatewayCliOptions) => {
      const settings = gatewayOptions(o);
      // Checked before the transport connects: a missing secret should not wait for a broker first.
      resolveGatewayOptions({ ...settings, producer: NO_PRODUCER });
      return runService('gateway', global(), o, async ({ transport, logger, metrics, wiring }) => {
        const producer = await transport.producer();
        const topic = (wiring.topics ?? TOPICS).sensorReadings;
        const gateway = await startGateway({ ...settings, topic, producer, registry: metrics.registry, logger });
        return {
          stop: async () => {
            await gateway.close();
            await producer.close();
          },
          details: () => ({ url: gateway.url, ...gateway.details() }),
          ready: () => gateway.ready(),
        };
      });
    });

  const devices = program.command('devices').description('device credentials for the gateway');
  devices
    .command('token')
    .description(`print a signed token for one device (HS256 JWT; the secret comes from ${TOKEN_SECRET_ENV})`)
    .requiredOption('--device <id>', 'the device id the token lets send readings (its sub)')
    .option('--ttl <duration>', 'lifetime: seconds, or with s, m, h or d (at most 366d)', '30d')
    .action(async (o: { device: string; ttl: string }) => {
      const secret = process.env[TOKEN_SECRET_ENV];
      if (!secret)
        throw new InvalidOptionError(
          `set ${TOKEN_SECRET_ENV} to the gateway's token secret (at least 32 characters; openssl rand -hex 32)`,
        );
      const token = await issueDeviceToken({ secret, device: o.device, ttlSeconds: parseTtl(o.ttl) });
      process.stdout.write(`${token}\n`);
    });
}
