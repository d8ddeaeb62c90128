/**
 * The gateway of bench:gateway, in a process of its own so that the simulated phones neither share its
 * event loop nor count in its memory. Started by bench/gateway.ts over IPC: it sends `{ url }` once
 * listening, answers `rss` with its resident set, and stops on `stop`.
 */
import { startGateway } from '../src/gateway/server.ts';
import { KafkaTransport } from '../src/transport/kafka/kafka-transport.ts';
import { kafkaOptionsFromEnv } from '../src/transport/kafka/options.ts';

const topic = process.env.BENCH_TOPIC!;
const transport = new KafkaTransport({ ...kafkaOptionsFromEnv(), clientId: 'bench-gateway' });
const producer = await transport.producer();
const gateway = await startGateway({ producer, topic, tokenSecret: process.env.GATEWAY_TOKEN_SECRET });
let peak = process.memoryUsage().rss;
setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 200).unref();
process.send!({ url: gateway.url });
process.on('message', (m: string) => {
  if (m === 'rss') process.send!({ rss: Math.max(peak, process.memoryUsage().rss), ...gateway.details() });
  if (m === 'stop')
    void (async () => {
      await gateway.close();
      await producer.close();
      await transport.close();
      process.exit(0);
    })();
});
