import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';

const BIN = path.resolve(import.meta.dirname, '../../node_modules/.bin/azurite-blob');

/**
 * Azurite's well-known development account (documented by Microsoft for the
 * emulator; not a secret: it opens nothing but a local Azurite).
 */
const DEV_ACCOUNT = 'devstoreaccount1';
const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export function azuriteConnectionString(port: number): string {
  return `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};BlobEndpoint=http://127.0.0.1:${port}/${DEV_ACCOUNT};`;
}

/**
 * Starts Azurite's blob service (npm `azurite`, a dev dependency) on 127.0.0.1
 * with in-memory storage, for the Event Hubs checkpoint store.
 * AZURITE_CONNECTION_STRING points the suites at a running one instead.
 * With CI=true a service that cannot be started fails the run.
 */
export async function startAzurite(): Promise<{
  connectionString?: string;
  error?: string;
  stop?: () => Promise<void>;
}> {
  if (process.env.AZURITE_CONNECTION_STRING) return { connectionString: process.env.AZURITE_CONNECTION_STRING };
  const port = Number(process.env.TEST_AZURITE_PORT ?? Number(process.env.TEST_KAFKA_PORT ?? 19092) + 200);
  const started = Date.now();
  let child: ChildProcess | undefined;
  try {
    child = spawn(
      BIN,
      [
        '--blobHost',
        '127.0.0.1',
        '--blobPort',
        String(port),
        '--inMemoryPersistence',
        '--skipApiVersionCheck',
        '--loose',
        '--disableTelemetry',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const deadline = Date.now() + 60_000;
    while (!output.includes('successfully listens')) {
      if (child.exitCode !== null) throw new Error(`azurite exited with ${child.exitCode}: ${output.trim()}`);
      if (Date.now() > deadline) throw new Error(`azurite did not start within 60 s: ${output.trim()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    process.stdout.write(
      `[services] azurite blob on 127.0.0.1:${port} (pid ${child.pid}) in ${Date.now() - started} ms\n`,
    );
    const proc = child;
    return {
      connectionString: azuriteConnectionString(port),
      stop: async () => {
        if (proc.exitCode !== null) return;
        proc.kill('SIGTERM');
        await once(proc, 'exit');
      },
    };
  } catch (err) {
    child?.kill('SIGKILL');
    const error = `Azurite could not be started: ${(err as Error).message}`;
    if (process.env.CI === 'true') throw new Error(error);
    process.stdout.write(`[services] ${error}\n`);
    return { error };
  }
}
