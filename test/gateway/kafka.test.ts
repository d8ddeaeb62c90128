import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeEvent } from '../../src/schemas/cloudevents.ts';
import { topicSpecs } from '../../src/topics.ts';
import { requireKafka, testKafka } from '../setup/services.ts';
import { collectOutput, runInProcess } from '../support/cli.ts';
import { waitFor } from '../support/wait.ts';
import { post, readAll, readings, SECRET, type TestGateway, testGateway, token } from './support.ts';

const BIN = path.resolve(import.meta.dirname, '../../bin/activity-tracking.js');

let current: TestGateway | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

describe('gateway on the real broker', () => {
  it('acknowledges a batch only once it is readable from the topic', async () => {
    const topic = `gateway-${randomUUID()}`;
    current = await testGateway({}, testKafka('gateway-test'), topic);
    const { gateway, transport } = current;
    const t = await token('phone-k');
    const sent = [readings('phone-k', 0), readings('phone-k', 50)];
    for (const [i, batch] of sent.entries()) {
      const res = await post(gateway, batch, { token: t, key: `b${i}`, binary: i === 1 });
      expect(res.status).toBe(200);
      // Read at once, with no wait: the 200 came after the broker's acknowledgement (acks=all).
      const records = await readAll(transport, topic);
      expect(records).toHaveLength(i + 1);
    }
    const records = await readAll(transport, topic);
    expect(records.map((r) => decodeEvent(r.headers, r.value).data)).toEqual(sent);
    expect(new Set(records.map((r) => r.partition)).size).toBe(1);
    expect((await post(gateway, sent[0], { token: t, key: 'b0' })).status).toBe(200);
    expect(await readAll(transport, topic)).toHaveLength(2);
  });

  it('runs as `activity-tracking gateway` with a token from `devices token`, and stops cleanly', async () => {
    const brokers = requireKafka().join(',');
    const admin = testKafka('gateway-cli-topics');
    await admin.ensureTopics(topicSpecs(3));
    await admin.close();
    const issued = await runInProcess(['devices', 'token', '--device', 'cli-phone', '--ttl', '1h'], {
      GATEWAY_TOKEN_SECRET: SECRET,
    });
    expect(issued.code, issued.stderr).toBe(0);
    const child = spawn(process.execPath, [BIN, '--transport', 'kafka', 'gateway', '--port', '0'], {
      env: { ...process.env, KAFKA_BROKERS: brokers, GATEWAY_TOKEN_SECRET: SECRET, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = collectOutput(child);
    let exited: number | null | undefined;
    child.once('exit', (code) => {
      exited = code;
    });
    try {
      let url = '';
      let ops = '';
      await waitFor(() => {
        if (exited !== undefined) throw new Error(`gateway exited with ${exited}: ${output()}`);
        url = /"url":"(http:[^"]+)","topic"/.exec(output())?.[1] ?? '';
        ops = /"health":"(http:[^"]+)\/healthz"/.exec(output())?.[1] ?? '';
        return url !== '' && ops !== '';
      }, 'the gateway to listen');
      expect((await fetch(`${ops}/readyz`)).status).toBe(200);
      const res = await post({ url } as never, readings('cli-phone', 7), { token: issued.stdout.trim() });
      expect(res.status).toBe(200);
      expect(await (await fetch(`${ops}/metrics`)).text()).toMatch(
        /gateway_requests_total\{route="\/v1\/readings",status="200"\} 1/,
      );
      expect(await (await fetch(`${ops}/healthz`)).json()).toMatchObject({
        ok: true,
        component: 'gateway',
        tokens: true,
      });
      child.kill('SIGTERM');
      await waitFor(() => exited !== undefined, 'the gateway to stop on SIGTERM');
      expect(exited, output()).toBe(0);
      expect(output()).not.toContain(SECRET);
    } finally {
      if (exited === undefined) child.kill('SIGKILL');
    }
  });
});
