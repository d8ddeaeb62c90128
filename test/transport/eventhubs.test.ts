import { usePeer } from '../eventhubs/harness.ts';
import { describeTransport } from './conformance.ts';

const { transport } = usePeer();

describeTransport('eventhubs (SDK against the local AMQP peer, checkpoints in Azurite)', () => transport());
