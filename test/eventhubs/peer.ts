import type { AddressInfo, Server } from 'node:net';
import rhea, { type Connection, type EventContext, type Message, type Receiver, type Sender } from 'rhea';

/**
 * A local AMQP 1.0 peer that speaks the part of the Azure Event Hubs protocol
 * that @azure/event-hubs uses, so the tests drive the real SDK end to end
 * without Azure. The SDK talks plain AMQP (no TLS) to it when the connection
 * string carries `UseDevelopmentEmulator=true` (core-amqp picks TCP and port 5672,
 * or the port in the Endpoint).
 *
 * What it implements, and where the SDK uses it:
 * - plain AMQP, or AMQPS with a given key and certificate (the SDK drops TLS only for the emulator
 *   flag, so Microsoft Entra ID clients need it);
 * - SASL ANONYMOUS/EXTERNAL/MSSBCBS, and `$cbs` put-token requests (202; with `authorize`, a token it
 *   refuses gets 401);
 * - `$management` READ of a hub (`com.microsoft:eventhub`: partition ids) and of a
 *   partition (`com.microsoft:partition`: sequence numbers, offset, empty flag);
 *   an unknown hub answers 404 `amqp:not-found`;
 * - send links to `<hub>` (partition chosen by the `x-opt-partition-key` hash, else
 *   round-robin) and to `<hub>/Partitions/<id>`, plain and batched (format
 *   0x80013700) messages, each accepted once stored;
 * - receive links on `<hub>/ConsumerGroups/<group>/Partitions/<id>` with the
 *   `apache.org:selector-filter:string` position filter (offset, sequence number
 *   or enqueued time, `>` or `>=`), honouring link credit, stamping the annotations
 *   `x-opt-sequence-number`, `x-opt-offset`, `x-opt-enqueued-time` and
 *   `x-opt-partition-key`, with the runtime-metric delivery annotations when the
 *   receiver asks for them;
 * - owner levels (`com.microsoft:epoch`): a receiver with a level at least the
 *   highest one of its group's partition takes it over and the others are detached
 *   with `amqp:link:stolen`, as the load-balanced EventHubConsumerClient expects.
 *
 * Consumer groups are checked only with `strictConsumerGroups`. Not implemented:
 * retention, idempotent publishing, geo-replication, transactions. Hubs are made
 * with `createHub` (the data plane cannot create them; in Azure that is ARM's job).
 */

interface StoredEvent {
  message: Message;
  sequenceNumber: number;
  offset: number;
  enqueuedTime: Date;
  partitionKey: string | undefined;
}

interface Hub {
  name: string;
  groups: Set<string>;
  createdAt: Date;
  partitions: StoredEvent[][];
  nextOffset: number[];
  roundRobin: number;
}

interface Stream {
  sender: Sender;
  hub: Hub;
  partition: number;
  group: string;
  next: number;
  ownerLevel: number | undefined;
  runtimeMetric: boolean;
}

const BATCH_FORMAT = 0x80013700;
const RUNTIME_METRIC = 'com.microsoft:enable-receiver-runtime-metric-name';
const EPOCH = 'com.microsoft:epoch';
const FILTER = 'apache.org:selector-filter:string';
/** The SAS key of the connection strings the peer hands out; the peer accepts any token. */
const TEST_KEY = Buffer.from('local-peer-key').toString('base64');

export interface PeerOptions {
  /** Serve AMQP over TLS (AMQPS) with this key and certificate, as Azure does; plain TCP otherwise. */
  tls?: { key: Buffer; cert: Buffer };
  /**
   * Decides a CBS put-token (token, token type: `jwt` for Entra ID, `servicebus.windows.net:sastoken`
   * for SAS); a refused token is answered 401. @defaultValue every token is accepted
   */
  authorize?: (token: string, type: string) => boolean;
  /**
   * Refuse receivers of consumer groups not made with `createConsumerGroup`, as the service does
   * (`$default` always exists). @defaultValue false: any group is accepted
   */
  strictConsumerGroups?: boolean;
}

export class EventHubsPeer {
  readonly #options: PeerOptions;
  readonly #container = rhea.create_container({ id: 'eventhubs-peer' });
  readonly #hubs = new Map<string, Hub>();
  readonly #streams = new Map<Sender, Stream>();
  readonly #connections = new Set<Connection>();
  #server: Server | undefined;

  constructor(options: PeerOptions = {}) {
    this.#options = options;
  }

  /** Starts listening on 127.0.0.1 (an ephemeral port unless one is given); resolves with the port. */
  async start(port = 0): Promise<number> {
    const c = this.#container;
    c.sasl_server_mechanisms.enable_anonymous();
    c.sasl.server_add_external(c.sasl_server_mechanisms);
    c.sasl_server_mechanisms.MSSBCBS = c.sasl_server_mechanisms.EXTERNAL;
    c.on('connection_open', (ctx: EventContext) => this.#connections.add(ctx.connection));
    c.on('disconnected', (ctx: EventContext) => this.#dropConnection(ctx.connection));
    c.on('connection_close', (ctx: EventContext) => this.#dropConnection(ctx.connection));
    c.on('error', () => {});
    c.on('connection_error', () => {});
    c.on('protocol_error', () => {});
    c.on('sender_open', (ctx: EventContext) => this.#onSenderOpen(ctx.sender!));
    c.on('sender_close', (ctx: EventContext) => this.#streams.delete(ctx.sender!));
    c.on('receiver_open', (ctx: EventContext) => this.#onReceiverOpen(ctx.receiver!));
    c.on('sendable', (ctx: EventContext) => {
      const stream = this.#streams.get(ctx.sender!);
      if (stream) this.#pump(stream);
    });
    c.on('message', (ctx: EventContext) => this.#onMessage(ctx));
    const server = c.listen({
      ...(this.#options.tls ? { transport: 'tls', ...this.#options.tls } : {}),
      port,
      host: '127.0.0.1',
      max_frame_size: 65536,
      channel_max: 4999,
      idle_time_out: 240_000,
      receiver_options: { autoaccept: false, max_message_size: 1024 * 1024 },
      sender_options: { max_message_size: 1024 * 1024 },
    } as never) as Server;
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.once('listening', () => resolve());
    });
    return this.port;
  }

  get port(): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? -1;
  }

  /** A namespace-level connection string for the SDK (no EntityPath). */
  connectionString(): string {
    return `Endpoint=sb://127.0.0.1:${this.port};SharedAccessKeyName=peer;SharedAccessKey=${TEST_KEY};UseDevelopmentEmulator=true`;
  }

  /** Creates an event hub, or leaves an existing one as it is. */
  createHub(name: string, partitions: number): void {
    if (this.#hubs.has(name)) return;
    this.#hubs.set(name, {
      name,
      groups: new Set(['$default']),
      createdAt: new Date(),
      partitions: Array.from({ length: partitions }, () => []),
      nextOffset: new Array(partitions).fill(0),
      roundRobin: 0,
    });
  }

  /** Makes a consumer group of a hub (what ARM does in Azure). */
  createConsumerGroup(hub: string, group: string): void {
    const h = this.#hubs.get(hub);
    if (!h) throw new Error(`no event hub "${hub}"`);
    h.groups.add(group);
  }

  consumerGroups(hub: string): string[] {
    return [...(this.#hubs.get(hub)?.groups ?? [])];
  }

  partitionCount(hub: string): number | undefined {
    return this.#hubs.get(hub)?.partitions.length;
  }

  hasHub(name: string): boolean {
    return this.#hubs.has(name);
  }

  /** Events stored in one partition of a hub. */
  events(hub: string, partition: number): readonly StoredEvent[] {
    return this.#hubs.get(hub)?.partitions[partition] ?? [];
  }

  /** Closes every client connection with `amqp:connection:forced`, as the service does on maintenance. */
  dropConnections(): void {
    for (const connection of this.#connections)
      connection.close({ condition: 'amqp:connection:forced', description: 'closed by the local peer' });
  }

  async stop(): Promise<void> {
    for (const connection of this.#connections) connection.close();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #dropConnection(connection: Connection): void {
    this.#connections.delete(connection);
    for (const [sender, stream] of this.#streams)
      if (stream.sender.connection === connection) this.#streams.delete(sender);
  }

  #onReceiverOpen(receiver: Receiver): void {
    receiver.set_target(receiver.target);
    const path = receiver.target?.address ?? '';
    if (path === '$cbs' || path === '$management') {
      receiver.add_credit(1000);
      return;
    }
    const [hubName, word, id] = path.split('/');
    const hub = this.#hubs.get(hubName);
    if (!hub) notFound(receiver, hubName);
    else if (word !== undefined && (word !== 'Partitions' || partitionOf(hub, id) === undefined)) outOfRange(receiver);
    else receiver.add_credit(1000);
  }

  #onSenderOpen(sender: Sender): void {
    sender.set_source(sender.source);
    const path = sender.source?.address ?? '';
    if (path === '$cbs' || path === '$management') return;
    const [hubName, consumerGroups, group, partitions, id] = path.split('/');
    const hub = this.#hubs.get(hubName);
    if (!hub) {
      notFound(sender, hubName);
      return;
    }
    const partition = partitionOf(hub, id);
    if (consumerGroups !== 'ConsumerGroups' || partitions !== 'Partitions' || partition === undefined) {
      outOfRange(sender);
      return;
    }
    if (this.#options.strictConsumerGroups && !hub.groups.has(group)) {
      sender.close({
        condition: 'amqp:not-found',
        description: `The messaging entity 'peer:eventhub:${hub.name}~0|${group}' could not be found.`,
      });
      return;
    }
    const remote = (sender as unknown as { remote: { attach: { properties?: Record<string, unknown> } } }).remote;
    const epoch = remote.attach.properties?.[EPOCH];
    const ownerLevel = epoch === undefined ? undefined : Number(epoch);
    const desired = [sender.desired_capabilities ?? []].flat();
    let next: number;
    try {
      next = startIndex(hub.partitions[partition], filterOf(sender.source));
    } catch (err) {
      sender.close({ condition: 'amqp:invalid-field', description: (err as Error).message });
      return;
    }
    const stream: Stream = {
      sender,
      hub,
      partition,
      group,
      next,
      ownerLevel,
      runtimeMetric: desired.includes(RUNTIME_METRIC),
    };
    if (!this.#admit(stream)) return;
    this.#streams.set(sender, stream);
    this.#pump(stream);
  }

  /** Owner levels, as the service enforces them per consumer group and partition. */
  #admit(stream: Stream): boolean {
    const rivals = [...this.#streams.values()].filter(
      (s) => s.hub === stream.hub && s.partition === stream.partition && s.group === stream.group,
    );
    const levels = rivals.map((s) => s.ownerLevel).filter((l): l is number => l !== undefined);
    const highest = levels.length > 0 ? Math.max(...levels) : undefined;
    if (highest === undefined && stream.ownerLevel === undefined) return true;
    if (stream.ownerLevel === undefined || (highest !== undefined && stream.ownerLevel < highest)) {
      stream.sender.close({
        condition: 'amqp:link:stolen',
        description: `a receiver with owner level ${highest} already reads partition ${stream.partition} of ${stream.hub.name}/${stream.group}`,
      });
      return false;
    }
    for (const rival of rivals) {
      this.#streams.delete(rival.sender);
      rival.sender.close({
        condition: 'amqp:link:stolen',
        description: `a receiver with owner level ${stream.ownerLevel} took over partition ${stream.partition}`,
      });
    }
    return true;
  }

  #pump(stream: Stream): void {
    const events = stream.hub.partitions[stream.partition];
    const { sender } = stream;
    while (stream.next < events.length && sender.is_open() && sender.sendable()) {
      const event = events[stream.next++];
      const annotations: Record<string, unknown> = {
        ...(event.message.message_annotations ?? {}),
        'x-opt-sequence-number': rhea.types.wrap_long(event.sequenceNumber),
        'x-opt-offset': String(event.offset),
        'x-opt-enqueued-time': event.enqueuedTime,
      };
      if (event.partitionKey !== undefined) annotations['x-opt-partition-key'] = event.partitionKey;
      const outgoing: Message = { ...event.message, message_annotations: annotations };
      if (stream.runtimeMetric) {
        const last = events[events.length - 1];
        outgoing.delivery_annotations = {
          last_enqueued_sequence_number: rhea.types.wrap_long(last.sequenceNumber),
          last_enqueued_offset: String(last.offset),
          last_enqueued_time_utc: last.enqueuedTime,
          runtime_info_retrieval_time_utc: new Date(),
        };
      }
      sender.send(outgoing);
    }
  }

  #onMessage(ctx: EventContext): void {
    const receiver = ctx.receiver!;
    const path = receiver.target?.address ?? '';
    const raw = ctx.message as unknown;
    if (path === '$cbs' || path === '$management') {
      this.#reply(ctx, path === '$cbs' ? this.#putToken(ctx.message!) : this.#management(ctx.message!));
      return;
    }
    const [hubName, , id] = path.split('/');
    const hub = this.#hubs.get(hubName);
    if (!hub) {
      ctx.delivery?.reject({ condition: 'amqp:not-found', description: `no event hub "${hubName}"` });
      return;
    }
    const messages = Buffer.isBuffer(raw) ? unbatch(raw, (ctx as { format?: number }).format) : [raw as Message];
    const key = messages[0]?.message_annotations?.['x-opt-partition-key'] as string | undefined;
    const partition =
      id !== undefined ? Number(id) : key !== undefined ? hashKey(key, hub) : hub.roundRobin++ % hub.partitions.length;
    const events = hub.partitions[partition];
    for (const message of messages) {
      const content = (message.body as { content?: unknown } | undefined)?.content;
      const size = Buffer.isBuffer(content) ? content.length : 0;
      events.push({
        message,
        sequenceNumber: events.length,
        offset: hub.nextOffset[partition],
        enqueuedTime: new Date(),
        partitionKey: (message.message_annotations?.['x-opt-partition-key'] as string | undefined) ?? key,
      });
      hub.nextOffset[partition] += size + 100;
    }
    ctx.delivery?.accept();
    for (const stream of this.#streams.values())
      if (stream.hub === hub && stream.partition === partition) this.#pump(stream);
  }

  #putToken(request: Message): Message {
    const props = request.application_properties ?? {};
    const token = typeof request.body === 'string' ? request.body : String(request.body ?? '');
    if (this.#options.authorize && !this.#options.authorize(token, String(props.type)))
      return {
        correlation_id: request.message_id,
        to: request.reply_to,
        application_properties: {
          'status-code': rhea.types.wrap_int(401),
          'status-description': `InvalidSignature: the token of type ${props.type} is not valid for ${props.name}`,
          'error-condition': 'amqp:unauthorized-access',
        },
        body: undefined,
      };
    return cbsAccepted(request);
  }

  #management(request: Message): Message {
    const props = request.application_properties ?? {};
    const hub = this.#hubs.get(String(props.name));
    const base = { correlation_id: request.message_id, to: request.reply_to };
    if (!hub)
      return {
        ...base,
        application_properties: {
          'status-code': rhea.types.wrap_int(404),
          'status-description': `The messaging entity '${props.name}' could not be found.`,
          'error-condition': 'amqp:not-found',
        },
        body: undefined,
      };
    const ok = { operation: 'READ', 'status-code': rhea.types.wrap_int(200) };
    if (props.type === 'com.microsoft:eventhub')
      return {
        ...base,
        application_properties: ok,
        body: {
          name: hub.name,
          type: 'com.microsoft:eventhub',
          created_at: hub.createdAt,
          partition_count: hub.partitions.length,
          partition_ids: rhea.types.wrap_array(
            hub.partitions.map((_, i) => String(i)),
            0xa1,
            undefined,
          ),
        },
      };
    const partition = partitionOf(hub, String(props.partition));
    if (props.type !== 'com.microsoft:partition' || partition === undefined)
      return {
        ...base,
        application_properties: {
          'status-code': rhea.types.wrap_int(400),
          'status-description': `bad management request ${JSON.stringify(props)}`,
          'error-condition': 'com.microsoft:argument-out-of-range',
        },
        body: undefined,
      };
    const events = hub.partitions[partition];
    const last = events[events.length - 1];
    return {
      ...base,
      application_properties: ok,
      body: {
        name: hub.name,
        type: 'com.microsoft:partition',
        partition: String(partition),
        begin_sequence_number: rhea.types.wrap_long(events.length > 0 ? 0 : -1),
        last_enqueued_sequence_number: rhea.types.wrap_long(last ? last.sequenceNumber : -1),
        last_enqueued_offset: last ? String(last.offset) : '-1',
        last_enqueued_time_utc: last ? last.enqueuedTime : new Date(0),
        is_partition_empty: events.length === 0,
      },
    };
  }

  /** Answers on the server's sender attached to the requester's reply link. */
  #reply(ctx: EventContext, response: Message): void {
    ctx.delivery?.accept();
    const to = response.to;
    const sender = ctx.connection.find_sender((s: Sender) => s.target?.address === to || s.name === to);
    sender?.send(response);
  }
}

function partitionOf(hub: Hub, id: string | undefined): number | undefined {
  const n = Number(id);
  return id !== undefined && /^\d+$/.test(id) && n < hub.partitions.length ? n : undefined;
}

function notFound(link: Sender | Receiver, hub: string): void {
  link.close({ condition: 'amqp:not-found', description: `The messaging entity '${hub}' could not be found.` });
}

function outOfRange(link: Sender | Receiver): void {
  link.close({
    condition: 'com.microsoft:argument-out-of-range',
    description: 'The specified partition is invalid for an EventHub partition sender or receiver.',
  });
}

function cbsAccepted(request: Message): Message {
  return {
    correlation_id: request.message_id,
    to: request.reply_to,
    application_properties: { 'status-code': rhea.types.wrap_int(202), 'status-description': 'Accepted' },
    body: undefined,
  };
}

/** The position filter's text: `amqp.annotation.x-opt-<field> <op> '<value>'`. */
function filterOf(source: Sender['source']): string {
  const filter = (source as { filter?: Record<string, unknown> }).filter?.[FILTER];
  const value = typeof filter === 'string' ? filter : (filter as { value?: unknown } | undefined)?.value;
  return typeof value === 'string' ? value : "amqp.annotation.x-opt-offset > '-1'";
}

function startIndex(events: StoredEvent[], filter: string): number {
  const m = /^amqp\.annotation\.x-opt-(offset|sequence-number|enqueued-time) (>=?) '([^']*)'$/.exec(filter.trim());
  if (!m) throw new Error(`unsupported event position filter: ${filter}`);
  const [, field, op, raw] = m;
  if (field === 'offset' && raw === '@latest') return events.length;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`event position value is not a number: ${filter}`);
  const of = (e: StoredEvent) =>
    field === 'offset' ? e.offset : field === 'sequence-number' ? e.sequenceNumber : e.enqueuedTime.getTime();
  const index = events.findIndex((e) => (op === '>=' ? of(e) >= value : of(e) > value));
  return index === -1 ? events.length : index;
}

/** The events of a batched transfer: an envelope whose data sections each hold one encoded message. */
function unbatch(raw: Buffer, format: number | undefined): Message[] {
  const envelope = rhea.message.decode(raw) as unknown as Message & {
    body: { content?: Buffer | Buffer[]; multiple?: boolean };
  };
  if (format !== BATCH_FORMAT) return [envelope];
  const content = envelope.body?.content;
  const sections = Array.isArray(content) ? content : content ? [content] : [];
  return sections.map((section) => rhea.message.decode(section) as unknown as Message);
}

/** A stable key → partition map (the service's own hash is its business; stability is what clients rely on). */
function hashKey(key: string, hub: Hub): number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return (h >>> 0) % hub.partitions.length;
}
