import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { directoryModelSource } from '../../src/serving/model-source.ts';
import { type ServingServer, startServing } from '../../src/serving/server.ts';

interface Group {
  body: Record<string, unknown>;
  ip: string;
  state: 'Creating' | 'Succeeded' | 'Failed';
  serving?: ServingServer;
}

export interface FakeArmOptions {
  token: string;
  modelDir: string;
  /** Groups whose image is this fail to provision. */
  failImage?: string;
  /** The first PUT is answered 429 with Retry-After: 1. */
  throttleFirstPut?: boolean;
}

/**
 * The subset of the ARM container-group API the SDK uses: PUT (201 +
 * Azure-AsyncOperation, polled to Succeeded/Failed), GET, DELETE, 429 with
 * Retry-After. "Running" a group starts a real serving server for the model
 * version in the group's environment on its own loopback IP (127.0.0.N) at
 * the group's port, so the deployer's health check is real.
 */
export class FakeArm {
  readonly requests: { method: string; url: string; body: unknown }[] = [];
  readonly groups = new Map<string, Group>();
  readonly #ops = new Map<string, { group: string; polls: number; fail: boolean }>();
  #server: Server | undefined;
  #nextIp = 2;
  #throttled = false;
  url = '';

  constructor(readonly options: FakeArmOptions) {}

  async start(tls: { key: string; cert: string }): Promise<void> {
    this.#server = createServer(tls, (req, res) => void this.#handle(req, res));
    await new Promise<void>((r) => this.#server!.listen(0, '127.0.0.1', r));
    this.url = `https://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const g of this.groups.values()) await g.serving?.close();
    this.#server?.closeAllConnections();
    await new Promise<void>((r) => this.#server?.close(() => r()));
  }

  #send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'x-ms-request-id': randomUUID(), ...headers });
    res.end(text);
  }

  #view(name: string, g: Group) {
    const props = g.body.properties as Record<string, unknown>;
    const ipAddress = props.ipAddress as Record<string, unknown>;
    return {
      id: `/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/${name}`,
      name,
      type: 'Microsoft.ContainerInstance/containerGroups',
      location: g.body.location,
      properties: { ...props, provisioningState: g.state, ipAddress: { ...ipAddress, ip: g.ip } },
    };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString();
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push({ method: req.method ?? '', url: url.pathname, body: raw ? JSON.parse(raw) : undefined });
    if (req.headers.authorization !== `Bearer ${this.options.token}`)
      return this.#send(res, 401, { error: { code: 'AuthenticationFailed', message: 'bad token' } });
    if (!url.searchParams.get('api-version'))
      return this.#send(res, 400, { error: { code: 'MissingApiVersionParameter', message: 'api-version' } });
    const op = url.pathname.match(/\/operations\/([^/]+)$/);
    if (op) return this.#poll(res, op[1]);
    const m = url.pathname.match(/\/containerGroups\/([^/]+)$/);
    if (!m) return this.#send(res, 404, { error: { code: 'NotFound', message: url.pathname } });
    const name = m[1];
    const group = this.groups.get(name);
    if (req.method === 'GET') {
      if (!group) return this.#send(res, 404, { error: { code: 'ResourceNotFound', message: name } });
      return this.#send(res, 200, this.#view(name, group));
    }
    if (req.method === 'DELETE') {
      if (!group) return this.#send(res, 204);
      await group.serving?.close();
      this.groups.delete(name);
      return this.#send(res, 200, this.#view(name, group));
    }
    if (req.method === 'PUT') {
      if (this.options.throttleFirstPut && !this.#throttled) {
        this.#throttled = true;
        return this.#send(
          res,
          429,
          { error: { code: 'TooManyRequests', message: 'slow down' } },
          { 'retry-after': '1' },
        );
      }
      const body = JSON.parse(raw) as Record<string, unknown>;
      const g: Group = { body, ip: `127.0.0.${this.#nextIp++}`, state: 'Creating' };
      this.groups.set(name, g);
      const containers = (body.properties as { containers: { properties: { image: string } }[] }).containers;
      const fail = containers[0].properties.image === this.options.failImage;
      const id = randomUUID();
      this.#ops.set(id, { group: name, polls: 0, fail });
      const opUrl = `${this.url}/subscriptions/sub/providers/Microsoft.ContainerInstance/locations/x/operations/${id}?api-version=2023-05-01`;
      return this.#send(res, 201, this.#view(name, g), { 'azure-asyncoperation': opUrl, 'retry-after': '0' });
    }
    this.#send(res, 405, { error: { code: 'MethodNotAllowed', message: String(req.method) } });
  }

  async #poll(res: ServerResponse, id: string): Promise<void> {
    const op = this.#ops.get(id);
    if (!op) return this.#send(res, 404, { error: { code: 'NotFound', message: id } });
    const g = this.groups.get(op.group);
    if (op.polls++ < 1 || !g) return this.#send(res, 200, { status: 'InProgress' }, { 'retry-after': '0' });
    if (op.fail) {
      g.state = 'Failed';
      return this.#send(res, 200, {
        status: 'Failed',
        error: { code: 'InaccessibleImage', message: 'The image could not be pulled' },
      });
    }
    g.state = 'Succeeded';
    await this.#run(g);
    this.#send(res, 200, { status: 'Succeeded' });
  }

  /** Starts the container: a real serving server from the group's environment; a crash leaves it unreachable. */
  async #run(g: Group): Promise<void> {
    const c = (g.body.properties as { containers: { properties: Record<string, unknown> }[] }).containers[0].properties;
    const env = Object.fromEntries(
      (c.environmentVariables as { name: string; value?: string; secureValue?: string }[]).map((e) => [
        e.name,
        e.value ?? e.secureValue ?? '',
      ]),
    );
    const port = (c.ports as { port: number }[])[0].port;
    try {
      g.serving = await startServing({
        source: directoryModelSource(this.options.modelDir),
        model: { name: env.MODEL_NAME, version: Number(env.MODEL_VERSION) },
        host: g.ip,
        port,
        apiKey: env.SERVING_API_KEY,
      });
    } catch {
      // the container crash-loops: provisioned, never ready
    }
  }
}
