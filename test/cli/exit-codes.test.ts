import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeError, EXIT, exitCodeOf } from '../../src/cli/exit.ts';
import { ActivityTrackingError, ErrorCodes, InvalidOptionError, ServiceUnavailableError } from '../../src/errors.ts';
import { runCli, runInProcess } from '../support/cli.ts';

const trackingDir = () => mkdtempSync(path.join(tmpdir(), 'cli-exit-'));

describe('exit codes (docs/configuration.md)', () => {
  it('every error code maps to a documented exit code', () => {
    for (const code of ErrorCodes)
      expect(Object.values(EXIT)).toContain(exitCodeOf(new ActivityTrackingError(code, 'x')));
    expect(exitCodeOf(new InvalidOptionError('x'))).toBe(EXIT.config);
    expect(exitCodeOf(new ServiceUnavailableError('x'))).toBe(EXIT.unavailable);
    expect(exitCodeOf(new Error('bug'))).toBe(EXIT.failure);
  });

  it('an expected error is one line, with its stack only at debug level', () => {
    const err = new ServiceUnavailableError('broker down', { cause: new Error('ECONNREFUSED') });
    expect(describeError(err, false)).toBe('error [SERVICE_UNAVAILABLE]: broker down\n');
    expect(describeError(err, true)).toMatch(/at .*\n[\s\S]*caused by: Error: ECONNREFUSED/);
  });

  // Flags that exist only on the command line are usage errors (2); settings that may come from the
  // environment are configuration (78). No stack trace in either case.
  it.each([
    [['nosuch'], EXIT.usage, /unknown command/],
    [['replay', '--loops', 'abc'], EXIT.usage, /--loops.*'abc' is invalid/],
    [['replay', '--loops', '-3'], EXIT.usage, /--loops.*'-3' is invalid/],
    [['replay', '--speed', '-1'], EXIT.usage, /--speed.*'-1' is invalid/],
    [['replay', '--split', 'bogus'], EXIT.usage, /--split.*Allowed choices are train, test/],
    [['replay', '--drift', 'rotation:q:1'], EXIT.usage, /--drift.*is invalid/],
    [['replay', '--drift-at', '-1', '--drift', 'rotation:z:45'], EXIT.usage, /--drift-at.*is invalid/],
    [['promote', '--version', '0x2'], EXIT.usage, /--version.*'0x2' is invalid/],
    [['promote', '--version', '1e0'], EXIT.usage, /--version.*'1e0' is invalid/],
    [['run', '--drift-at', '1.5'], EXIT.usage, /--drift-at.*'1.5' is invalid/],
    [['run', '--drift', 'nonsense'], EXIT.usage, /cannot read drift "nonsense"/],
    [['run', '--dashboard-port', '70000'], EXIT.usage, /--dashboard-port.*'70000' is invalid/],
    [['models', '--transport', 'bogus'], EXIT.config, /--transport \(env TRANSPORT\) is "bogus"/],
    [['--log-level', 'bogus', 'models'], EXIT.config, /--log-level \(env LOG_LEVEL\) is "bogus"/],
    [
      ['serve', '--model', 'm', '--version', '1', '--artifact', '/nonexistent', '--port', 'abc'],
      EXIT.config,
      /SERVING_PORT \(--port\) is "abc"/,
    ],
    [
      ['serve', '--model', 'm', '--version', '1', '--artifact', '/nonexistent', '--port', '-5'],
      EXIT.config,
      /SERVING_PORT \(--port\) is "-5"/,
    ],
    [['featurizer', '--metrics-port', 'x'], EXIT.config, /--metrics-port \(env METRICS_PORT\) is "x"/],
    [
      ['featurizer', '--vector-encoding', 'avro'],
      EXIT.config,
      /--vector-encoding \(env VECTOR_ENCODING\) is "avro"; choose binary or json/,
    ],
    [['detector', '--evict-idle', '5 min'], EXIT.config, /--evict-idle \(env EVICT_IDLE\) is "5 min"; give a duration/],
    [['--transport', 'kafka', 'deployer', '--target', 'mars'], EXIT.config, /--target \(env DEPLOY_TARGET\) is "mars"/],
  ])('activity-tracking %j exits %i', { timeout: 60_000 }, async (args, code, message) => {
    const r = await runInProcess(args, {
      TRACKING_DIR: trackingDir(),
      KAFKA_BROKERS: '127.0.0.1:1',
      KAFKA_RETRIES: '0',
    });
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  // Issue 15: with the broker down, `topics create` printed a kafkajs stack and exited 1 after 36 s.
  it('topics create with the broker down exits 69 with one line, within 10 s, with no KAFKA_RETRIES set', {
    timeout: 30_000,
  }, async () => {
    const started = Date.now();
    const r = await runInProcess(['--transport', 'kafka', 'topics', 'create'], { KAFKA_BROKERS: '127.0.0.1:1' });
    expect(r.code, r.stderr).toBe(EXIT.unavailable);
    expect(r.stderr).toMatch(
      /^error \[SERVICE_UNAVAILABLE\]: Kafka brokers 127\.0\.0\.1:1 are not reachable \(.*ECONNREFUSED.*\); check KAFKA_BROKERS\b.*\n$/,
    );
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('LOG_LEVEL=bogus in the environment is a configuration error', async () => {
    const r = await runCli(['models'], { LOG_LEVEL: 'bogus', TRACKING_DIR: trackingDir() });
    expect(r.code, r.stderr).toBe(EXIT.config);
    expect(r.stderr).toMatch(/LOG_LEVEL\) is "bogus"/);
  });

  it('--help exits 0', async () => {
    const r = await runCli(['promote', '--help']);
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toMatch(/--version <n>/);
  });
});
