import { mkdtemp } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.ts';
import { directoryModelSource } from '../../src/serving/model-source.ts';
import { type ServingOptions, type ServingServer, startServing } from '../../src/serving/server.ts';
import { waitFor } from '../support/wait.ts';
import { SlowClassifier, writeTestModel } from './models.ts';

let dir: string;
const servers: ServingServer[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'serving-limits-'));
  await writeTestModel(dir, { name: 'har', version: 1 });
});
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await s.close();
});

async function serve(options: Partial<ServingOptions> = {}): Promise<ServingServer> {
  const s = await startServing({ source: directoryModelSource(dir), model: { name: 'har', version: 1 }, ...options });
  servers.push(s);
  return s;
}

/** A raw connection that records what the server sends and whether the server closed it. */
function rawConnection(s: ServingServer) {
  const { hostname, port } = new URL(s.url);
  const socket = connect(Number(port), hostname);
  sockets.push(socket);
  const state = { data: '', closed: false, socket };
  socket.on('data', (c: Buffer) => {
    state.data += c.toString();
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    state.closed = true;
  });
  return state;
}

const metricsOf = async (s: ServingServer) => (await fetch(`${s.url}/metrics`)).text();

describe('serving under load and hostile clients', () => {
  it('answers /healthz while big batches are scored, and refuses a batch over maxConcurrentScores with 503', async () => {
    const slow: SlowClassifier[] = [];
    const s = await serve({
      source: async (ref) => {
        const m = await directoryModelSource(dir)(ref);
        slow.push(new SlowClassifier(m.classifier));
        return { digest: m.digest, classifier: slow[0] };
      },
      maxConcurrentScores: 2,
      scoreSliceRows: 16,
    });
    const model = slow[0];
    const batch = JSON.stringify({ vectors: Array.from({ length: 1024 }, (_, i) => Array(8).fill(i % 2 ? 5 : 0)) });
    const score = () =>
      fetch(`${s.url}/score`, { method: 'POST', body: batch, headers: { 'content-type': 'application/json' } });
    const batches = [score(), score(), score()];
    await waitFor(() => model.rowsScored > 0, 'scoring to start');
    const health = await fetch(`${s.url}/healthz`);
    const scoredAtHealth = model.rowsScored;
    expect(health.status).toBe(200);
    // Two batches are admitted (2 × 1024 rows); /healthz came back before they were scored.
    expect(scoredAtHealth).toBeLessThan(2 * 1024);
    const answers = await Promise.all(batches);
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 503]);
    const refused = answers.find((r) => r.status === 503)!;
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: string }).error).toBe('overloaded');
    for (const r of answers.filter((a) => a.status === 200))
      expect(((await r.json()) as { predictions: unknown[] }).predictions).toHaveLength(1024);
    expect(model.rowsScored).toBe(2 * 1024);
  });

  it('closes an idle keep-alive connection and a connection that sends nothing', async () => {
    const s = await serve({ keepAliveTimeoutMs: 100, headersTimeoutMs: 200, requestTimeoutMs: 400 });
    const kept = rawConnection(s);
    kept.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
    const silent = rawConnection(s);
    await waitFor(() => kept.closed && silent.closed, 'the server to close both idle connections', {
      timeoutMs: 10_000,
    });
    expect(kept.data).toMatch(/^HTTP\/1\.1 200 OK/);
  });

  it('cuts off a body that trickles in slower than requestTimeoutMs allows', async () => {
    const s = await serve({ headersTimeoutMs: 200, requestTimeoutMs: 400 });
    const slow = rawConnection(s);
    slow.socket.write(
      'POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
    );
    // A byte per event-loop turn at most, bounded; the server must give up long before 1000 bytes.
    for (let i = 0; i < 2000 && !slow.closed; i++) {
      await new Promise((r) => setTimeout(r, 5));
      if (!slow.socket.destroyed) slow.socket.write(' ');
    }
    await waitFor(() => slow.closed, 'the server to close the slow request', { timeoutMs: 10_000 });
    expect(slow.data).toMatch(/^HTTP\/1\.1 408/);
  });

  it('closes a connection beyond maxConnections', async () => {
    const s = await serve({ maxConnections: 2 });
    const held = [rawConnection(s), rawConnection(s)];
    for (const c of held) c.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await waitFor(() => held.every((c) => c.data.includes('200 OK')), 'both held connections to be answered');
    const extra = rawConnection(s);
    extra.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await waitFor(() => extra.closed, 'the connection over the cap to be closed', { timeoutMs: 10_000 });
    expect(extra.data).toBe('');
    expect(held.some((c) => c.closed)).toBe(false);
    for (const c of held) c.socket.destroy();
    await waitFor(
      async () => /serving_connections_dropped_total [1-9]/.test(await metricsOf(s).catch(() => '')),
      'the dropped connection to be counted',
    );
  });

  it('counts a client that hangs up mid-body as 499 at debug level, not a 500', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
        done();
      },
    });
    const s = await serve({ logger: createLogger({ level: 'debug', destination: sink as never }) });
    const c = rawConnection(s);
    c.socket.write(
      'POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n',
    );
    // Node answers 100 Continue as it hands the request to the handler.
    await waitFor(() => c.data.includes('100 Continue'), 'the server to take the request');
    c.socket.write('{"vector": [1, 2');
    c.socket.destroy();
    await waitFor(async () => /route="\/score",status="(499|500)"/.test(await metricsOf(s)), 'the abort to be counted');
    const metrics = await metricsOf(s);
    expect(metrics).toMatch(/route="\/score",status="499"/);
    expect(metrics).not.toMatch(/status="500"/);
    expect(lines.filter((l) => (l.level as number) >= 50)).toEqual([]);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 20,
        component: 'serving',
        msg: 'client closed the connection before the response',
      }),
    );
  });
});
