import type { DashboardSnapshot } from '../../src/dashboard/state.ts';

/**
 * The state a dashboard sends first on `GET /events` (the whole snapshot, at once on connect): what a
 * page would draw now. The stream is closed after that frame.
 */
export async function dashboardSnapshot(url: string, headers: Record<string, string> = {}): Promise<DashboardSnapshot> {
  const stream = new AbortController();
  const res = await fetch(`${url}/events`, { headers, signal: stream.signal });
  if (res.status !== 200) throw new Error(`${url}/events answered ${res.status}`);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${url}/events ended before its first state: ${text}`);
      text += decoder.decode(value, { stream: true });
      const frame = /event: state\ndata: (.*)\n\n/.exec(text);
      if (frame) return JSON.parse(frame[1]) as DashboardSnapshot;
    }
  } finally {
    stream.abort();
    await reader.cancel().catch(() => undefined);
  }
}
