/**
 * The deploy-target port (STYLE habit 2): local processes, local containers, Azure Container
 * Instances. Code above it never imports child_process or an Azure SDK.
 */
import type { ModelRef } from '../serving/model-source.ts';

export interface Deployment {
  model: ModelRef;
  /** Base URL of the serving endpoint (`http://host:port`). */
  endpoint: string;
  /** Target-specific id (pid, container group name). */
  id: string;
}

export interface DeployTarget {
  readonly kind: 'local' | 'aci' | 'container';
  /** The deployment receiving traffic, or null before the first success. */
  current(): Deployment | null;
  /**
   * Starts `model`, health-checks it and switches to it, then stops the
   * previous one. On failure the previous deployment keeps serving and the
   * promise rejects with a DeploymentError (`context.rolledBack` true when one
   * was kept).
   */
  deploy(model: ModelRef): Promise<Deployment>;
  /** Stops everything this target started. */
  close(): Promise<void>;
}

/** GETs `<endpoint>/readyz` until 200 or the deadline. */
export async function waitReady(endpoint: string, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`${endpoint}/readyz`, { signal: AbortSignal.timeout(Math.max(200, intervalMs * 5)) });
      await r.body?.cancel();
      if (r.status === 200) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return false;
}
