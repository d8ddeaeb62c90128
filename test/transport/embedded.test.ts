import { describe, expect, it } from 'vitest';
import { EmbeddedLog } from '../../src/transport/embedded/log.ts';
import { describeTransport } from './conformance.ts';

describeTransport('embedded', async () => new EmbeddedLog());

describe('embedded log', () => {
  it('names the fix when a topic is missing', async () => {
    const log = new EmbeddedLog();
    const producer = await log.producer();
    await expect(producer.publish([{ topic: 'nope', key: 'k', value: Buffer.from('x') }])).rejects.toThrow(
      /topic "nope" does not exist; create it first/,
    );
  });
});
