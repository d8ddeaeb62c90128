/**
 * bench:serving's load: the same three measures against any JSON scoring
 * endpoint (our /score, MLflow's /invocations). Bodies are prepared strings,
 * so the client's own JSON work is outside the timing; queries cycle through
 * real vectors, not one repeated vector (a k-NN's early exit depends on it).
 */
import { performance } from 'node:perf_hooks';

export interface LoadFigures {
  /** Single vector per request, one request at a time. */
  p50Ms: number;
  p99Ms: number;
  /** Single-vector requests per second with `clients` requests in flight. */
  concurrentReqPerS: number;
  /** Vectors per second in batches of `batchSize`, one request at a time. */
  batchVectorsPerS: number;
}

export interface Endpoint {
  url: string;
  /** Bodies of one vector each. */
  single: string[];
  /** Bodies of `batchSize` vectors each. */
  batch: string[];
  /** Throws unless the response body answers the request (a count check). */
  check(body: unknown, vectors: number): void;
}

export interface LoadOptions {
  sequential: number;
  clients: number;
  concurrentMs: number;
  batches: number;
  batchSize: number;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

async function post(e: Endpoint, body: string, vectors: number): Promise<void> {
  const r = await fetch(e.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await r.text();
  if (!r.ok) throw new Error(`${e.url} answered ${r.status}: ${text.slice(0, 300)}`);
  e.check(JSON.parse(text), vectors);
}

export async function measure(e: Endpoint, o: LoadOptions): Promise<LoadFigures> {
  // Warm-up: connections, the JIT, Python's first-call imports.
  for (let i = 0; i < 30; i++) await post(e, e.single[i % e.single.length], 1);
  for (let i = 0; i < 2; i++) await post(e, e.batch[i % e.batch.length], o.batchSize);

  const lat: number[] = [];
  for (let i = 0; i < o.sequential; i++) {
    const t = performance.now();
    await post(e, e.single[i % e.single.length], 1);
    lat.push(performance.now() - t);
  }
  lat.sort((a, b) => a - b);

  let done = 0;
  let next = 0;
  const end = performance.now() + o.concurrentMs;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: o.clients }, async () => {
      while (performance.now() < end) {
        await post(e, e.single[next++ % e.single.length], 1);
        done++;
      }
    }),
  );
  const concurrentReqPerS = done / ((performance.now() - t0) / 1000);

  const t1 = performance.now();
  for (let i = 0; i < o.batches; i++) await post(e, e.batch[i % e.batch.length], o.batchSize);
  const batchVectorsPerS = (o.batches * o.batchSize) / ((performance.now() - t1) / 1000);

  return { p50Ms: pct(lat, 0.5), p99Ms: pct(lat, 0.99), concurrentReqPerS, batchVectorsPerS };
}
