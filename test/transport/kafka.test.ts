import { testKafka } from '../setup/services.ts';
import { describeTransport } from './conformance.ts';

describeTransport('kafka', async () => testKafka('conformance'));
