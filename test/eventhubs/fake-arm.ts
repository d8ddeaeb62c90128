import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { EventHubsPeer } from './peer.ts';

/**
 * The subset of the Azure Resource Manager API for Event Hubs that @azure/arm-eventhub's
 * `eventHubs.get/createOrUpdate` and `consumerGroups.get/createOrUpdate` use (synchronous
 * PUT and GET, bearer token, api-version), over HTTPS. Creating a hub or a consumer group
 * makes it in the local AMQP peer, so what ARM made is what the data plane then sees.
 */
export class FakeEventHubsArm {
  readonly requests: { method: string; path: string; body: unknown }[] = [];
  #server: Server | undefined;
  url = '';

  constructor(
    readonly peer: EventHubsPeer,
    readonly token: string,
  ) {}

  async start(tls: { key: string; cert: string }): Promise<void> {
    this.#server = createServer(tls, (req, res) => void this.#handle(req, res));
    await new Promise<void>((r) => this.#server!.listen(0, '127.0.0.1', r));
    this.url = `https://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((r) => this.#server?.close(() => r()));
  }

  #send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json', 'x-ms-request-id': randomUUID() });
    res.end(JSON.stringify(body));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString();
    const url = new URL(req.url ?? '/', this.url);
    const body = raw ? (JSON.parse(raw) as { properties?: { partitionCount?: number } }) : undefined;
    this.requests.push({ method: req.method ?? '', path: url.pathname, body });
    if (req.headers.authorization !== `Bearer ${this.token}`)
      return this.#send(res, 401, { error: { code: 'AuthenticationFailed', message: 'bad token' } });
    if (!url.searchParams.get('api-version'))
      return this.#send(res, 400, { error: { code: 'MissingApiVersionParameter', message: 'api-version' } });
    const m =
      /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.EventHub\/namespaces\/([^/]+)\/eventhubs\/([^/]+)(?:\/consumergroups\/([^/]+))?$/.exec(
        url.pathname,
      );
    if (!m) return this.#send(res, 404, { error: { code: 'NotFound', message: url.pathname } });
    const [, , , , hub, group] = m.map((x) => (x === undefined ? x : decodeURIComponent(x)));
    const id = url.pathname;
    const notFound = () =>
      this.#send(res, 404, { error: { code: 'NotFound', message: `The requested resource ${id} does not exist.` } });
    if (group === undefined) {
      if (req.method === 'PUT') this.peer.createHub(hub, body?.properties?.partitionCount ?? 4);
      else if (req.method !== 'GET') return this.#send(res, 405, { error: { code: 'MethodNotAllowed', message: '' } });
      const count = this.peer.partitionCount(hub);
      if (count === undefined) return notFound();
      return this.#send(res, 200, {
        id,
        name: hub,
        type: 'Microsoft.EventHub/namespaces/eventhubs',
        properties: {
          partitionCount: count,
          partitionIds: Array.from({ length: count }, (_, i) => String(i)),
          messageRetentionInDays: 1,
          status: 'Active',
        },
      });
    }
    if (!this.peer.hasHub(hub)) return notFound();
    if (req.method === 'PUT') this.peer.createConsumerGroup(hub, group);
    else if (req.method !== 'GET') return this.#send(res, 405, { error: { code: 'MethodNotAllowed', message: '' } });
    if (!this.peer.consumerGroups(hub).includes(group)) return notFound();
    return this.#send(res, 200, { id, name: group, type: 'Microsoft.EventHub/namespaces/eventhubs/consumergroups' });
  }
}
