import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/exit.ts';
import { defaultTransport } from '../../src/cli/transport.ts';
import { runInProcess } from '../support/cli.ts';

/** Which transport a command uses when none is named (docs/configuration.md, issue 15). */
describe('the transport of a command', () => {
  it('is TRANSPORT, else kafka when KAFKA_BROKERS is set, else embedded; run stays embedded unless told', () => {
    expect(defaultTransport('deployments', {})).toBe('embedded');
    expect(defaultTransport('deployments', { KAFKA_BROKERS: 'k:9092' })).toBe('kafka');
    expect(defaultTransport('featurizer', { KAFKA_BROKERS: 'k:9092' })).toBe('kafka');
    expect(defaultTransport('create', { KAFKA_BROKERS: 'k:9092', TRANSPORT: 'eventhubs' })).toBe('eventhubs');
    expect(defaultTransport('run', { KAFKA_BROKERS: 'k:9092' })).toBe('embedded');
    expect(defaultTransport('run', { KAFKA_BROKERS: 'k:9092', TRANSPORT: 'kafka' })).toBe('kafka');
  });

  // `models` and `runs` read only the registry; `deployments` and `report` read topics, and used to
  // say `topic "deployment-events" does not exist` from the embedded log with KAFKA_BROKERS set.
  it.each([['deployments'], ['report', '--out', '/dev/null']])(
    '%s with KAFKA_BROKERS set goes to Kafka without --transport',
    { timeout: 30_000 },
    async (...args) => {
      const r = await runInProcess(args, { KAFKA_BROKERS: '127.0.0.1:1', KAFKA_RETRIES: '0' });
      expect(r.code, r.stderr).toBe(EXIT.unavailable);
      expect(r.stderr).toMatch(/^error \[SERVICE_UNAVAILABLE\]: Kafka brokers 127\.0\.0\.1:1 are not reachable/);
    },
  );

  it.each([['deployments'], ['report'], ['topics', 'create'], ['replay'], ['featurizer']])(
    '%s on the embedded log says what to set instead',
    async (...args) => {
      const r = await runInProcess(args);
      expect(r.code, r.stderr).toBe(EXIT.config);
      expect(r.stderr).toMatch(
        /^error \[INVALID_OPTION\]: .* the embedded log lives only inside this process: .*; set KAFKA_BROKERS \(the CLI then uses Kafka\) or choose --transport kafka or eventhubs \(env TRANSPORT\)\n$/,
      );
    },
  );
});
