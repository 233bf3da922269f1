// A small client of SpacetimeDB's protocol (v3 or v2, BSATN, uncompressed) for sync: it gets a token's
// short-lived WebSocket token as the SDK does, connects, subscribes one query set, calls reducers
// (with a call id when the server offers them) and hands every transaction to its owner in the
// order the server sent them. Messages are the package's own ClientMessage/ServerMessage; rows
// stay BSATN bytes, which is how the datastore stores them. Platform-neutral: the socket and
// fetch come from the caller (the browser's, or Node's `ws`).
import { BinaryReader, BinaryWriter, ClientMessage, ServerMessage, type BsatnRowList, type ReducerOutcome, type TransactionUpdate } from '../protocol/client-api.js';
import { CALL_ID_FLAG } from '../protocol/connection.ts';
import { V2_PROTOCOL, V3_PROTOCOL } from '../protocol/messages.ts';
import { SyncError } from './errors.ts';
import type { FetchLike, SocketFactory, SocketLike } from './transport.ts';

export type { FetchLike, SocketFactory, SocketLike } from './transport.ts';

/** One table's rows of a message. */
export interface TableRows {
  table: string;
  inserts: Uint8Array[];
  deletes: Uint8Array[];
}

export interface WireClientOptions {
  uri: string;
  database: string;
  token: string;
  socket: SocketFactory;
  fetch: FetchLike;
  /** A transaction of someone else (ours come with their call's result), in server order. */
  onTransaction(tables: TableRows[]): void;
  /**
   * The connection ended (not called after `close()`). `failure` when it ended because of what
   * the server sent (a message sync cannot read, the subscription ended by the server).
   */
  onClose(reason: string, failure?: SyncError): void;
}

/**
 * Offered in this order, as the SDK does. v3 carries several messages in one frame both ways: a
 * burst of calls leaves in one frame, and the transactions one group commit made durable arrive in
 * one, instead of a frame (and a socket write on each side) per message.
 */
const PROTOCOLS = [V3_PROTOCOL, V2_PROTOCOL];
/** A v3 frame of calls is cut at this size (as the SDK's). */
const MAX_V3_FRAME = 256 * 1024;
/** The frame buffer starts over after a frame larger than this. */
const SHRINK_AFTER = 64 * 1024;
/** How long a connection may take to say InitialConnection. */
const CONNECT_TIMEOUT_MS = 15_000;

/** Rows of a BsatnRowList, each a view into its data. */
export function rowsOf(list: BsatnRowList): Uint8Array[] {
  const data = list.rowsData;
  const out: Uint8Array[] = [];
  const hint = list.sizeHint as { tag: 'FixedSize'; value: number } | { tag: 'RowOffsets'; value: bigint[] };
  if (hint.tag === 'FixedSize') {
    if (hint.value === 0) return out;
    for (let at = 0; at + hint.value <= data.length; at += hint.value) out.push(data.subarray(at, at + hint.value));
    return out;
  }
  const offsets = hint.value.map(Number);
  for (let i = 0; i < offsets.length; i++) out.push(data.subarray(offsets[i]!, i + 1 < offsets.length ? offsets[i + 1] : data.length));
  return out;
}

/** The rows of a TransactionUpdate, merged per table across query sets. */
export function transactionRows(update: TransactionUpdate): TableRows[] {
  const byTable = new Map<string, TableRows>();
  for (const set of update.querySets) {
    for (const t of set.tables) {
      let e = byTable.get(t.tableName);
      if (!e) byTable.set(t.tableName, (e = { table: t.tableName, inserts: [], deletes: [] }));
      for (const r of t.rows) {
        if (r.tag === 'PersistentTable') {
          e.inserts.push(...rowsOf(r.value.inserts));
          e.deletes.push(...rowsOf(r.value.deletes));
        }
      }
    }
  }
  return [...byTable.values()];
}

/** A reducer call's outcome as the server answered it. */
export type CallOutcome = { ok: true; tables: TableRows[] } | { ok: false; kind: 'sender' | 'internal'; message: string };

type Waiter = { resolve: (m: ServerMessage) => void; reject: (e: Error) => void; now?: (m: ServerMessage) => void };

function outcomeOf(r: ReducerOutcome): CallOutcome {
  switch (r.tag) {
    case 'Ok':
      return { ok: true, tables: transactionRows(r.value.transactionUpdate) };
    case 'OkEmpty':
      return { ok: true, tables: [] };
    case 'Err':
      return { ok: false, kind: 'sender', message: new BinaryReader(r.value).readString() };
    case 'InternalError':
      return { ok: false, kind: 'internal', message: r.value };
  }
}

export class WireClient {
  readonly identity: string;
  readonly #ws: SocketLike;
  readonly #o: WireClientOptions;
  readonly #waiting = new Map<string, Waiter>();
  /** Whether the server chose v3 (several messages per frame). */
  readonly #v3: boolean;
  /** v3: messages sent in this turn, to leave as one frame. */
  #out = new BinaryWriter(1024);
  #flushing = false;
  #nextRequest = 1;
  #closed = false;

  private constructor(ws: SocketLike, identity: string, v3: boolean, o: WireClientOptions) {
    this.#ws = ws;
    this.identity = identity;
    this.#v3 = v3;
    this.#o = o;
  }

  /**
   * Connects: exchanges `token` for a WebSocket token (SyncError TOKEN_REFUSED when the server
   * refuses it), opens the socket and waits for InitialConnection (SyncError CONNECT_FAILED).
   */
  static async open(o: WireClientOptions): Promise<WireClient> {
    const base = o.uri.endsWith('/') ? o.uri : `${o.uri}/`;
    const exchange = await o.fetch(new URL('v1/identity/websocket-token', base).href, { method: 'POST', headers: { authorization: `Bearer ${o.token}` } });
    if (exchange.status === 401 || exchange.status === 403) {
      throw new SyncError(
        'TOKEN_REFUSED',
        `the server at ${o.uri} refuses this replica's token (${exchange.status} ${await exchange.text()}): give remote.token a token it issued, or none to get a new identity`,
      );
    }
    if (exchange.status !== 200) throw new SyncError('CONNECT_FAILED', `the server at ${o.uri} answered the token exchange with ${exchange.status}: ${await exchange.text()}`);
    const short = (JSON.parse(await exchange.text()) as { token: string }).token;
    const url = new URL(`v1/database/${encodeURIComponent(o.database)}/subscribe`, base);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('token', short);
    url.searchParams.set('compression', 'None');
    const ws = o.socket(url.href, PROTOCOLS);
    ws.binaryType = 'arraybuffer';
    return new Promise<WireClient>((resolve, reject) => {
      let client: WireClient | undefined;
      ws.onerror = () => {};
      ws.onclose = (ev) => {
        if (client) client.#ended(`the connection closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`);
        else reject(new SyncError('CONNECT_FAILED', `could not connect to database ${o.database} at ${o.uri} (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`));
      };
      const timer = setTimeout(() => {
        if (client) return;
        ws.onclose = null;
        ws.close();
        reject(new SyncError('CONNECT_FAILED', `database ${o.database} at ${o.uri} did not answer within ${CONNECT_TIMEOUT_MS / 1000} s`));
      }, CONNECT_TIMEOUT_MS);
      ws.onmessage = (ev) => {
        if (client?.closed) return;
        // The protocol the server chose is known once it answered; anything but v3 is one message
        // per frame. Messages before a bad one in a v3 frame are still taken (as the SDK does):
        // an answer among them must not be lost.
        const { messages, error } = decodeFrame(ev.data, ws.protocol === V3_PROTOCOL);
        for (const msg of messages) {
          if (client?.closed) return;
          if (!client) {
            if (msg.tag !== 'InitialConnection') {
              ws.close(1002, 'expected InitialConnection');
              reject(new SyncError('PROTOCOL_ERROR', `the server's first message is ${msg.tag}, not InitialConnection`));
              return;
            }
            clearTimeout(timer);
            client = new WireClient(ws, msg.value.identity.toHexString(), ws.protocol === V3_PROTOCOL, o);
            resolve(client);
          } else {
            client.#dispatch(msg);
          }
        }
        if (error === undefined || client?.closed) return;
        ws.close(1002, 'malformed server message');
        if (client) client.#ended(`the server sent a message sync cannot read: ${error}`, 'PROTOCOL_ERROR');
        else reject(new SyncError('PROTOCOL_ERROR', `the server sent a message sync cannot read: ${error}`));
      };
    });
  }

  /**
   * Subscribes `queries` as one query set. `onApplied` gets the rows per table synchronously, as
   * the message is read, before any later message is handled (a transaction right after the
   * rows must come after them). Resolves once that happened; rejects when the server refuses.
   */
  async subscribe(queries: string[], onApplied: (rows: TableRows[]) => void): Promise<void> {
    const requestId = this.#nextRequest++;
    const reply = this.#wait(`sub:${requestId}`, (m) => {
      if (m.tag === 'SubscribeApplied') onApplied(m.value.rows.tables.map((t) => ({ table: t.table, inserts: rowsOf(t.rows), deletes: [] })));
    });
    this.#send({ tag: 'Subscribe', value: { requestId, querySetId: { id: 1 }, queryStrings: queries } });
    const m = await reply;
    if (m.tag === 'SubscriptionError') throw new SyncError('SUBSCRIBE_FAILED', `the server refused the replica's subscription: ${m.value.error}`, { queries });
    if (m.tag !== 'SubscribeApplied') throw new SyncError('PROTOCOL_ERROR', `expected SubscribeApplied, got ${m.tag}`);
  }

  /**
   * Calls a reducer (BSATN args), with `callId` when the server offers call ids. `onAnswer` gets
   * the outcome synchronously as the answer is read, in order with the transactions around it;
   * the promise rejects only when the connection ends first.
   */
  async call(reducer: string, args: Uint8Array, callId: string | undefined, onAnswer: (outcome: CallOutcome) => void): Promise<void> {
    const requestId = this.#nextRequest++;
    const reply = this.#wait(`call:${requestId}`, (m) => {
      if (m.tag === 'ReducerResult') onAnswer(outcomeOf(m.value.result as ReducerOutcome));
    });
    let payload = args;
    if (callId !== undefined) {
      // The id as a BSATN string (u32 length, UTF-8), then the reducer's own args.
      const id = new TextEncoder().encode(callId);
      payload = new Uint8Array(4 + id.length + args.length);
      new DataView(payload.buffer).setUint32(0, id.length, true);
      payload.set(id, 4);
      payload.set(args, 4 + id.length);
    }
    this.#send({ tag: 'CallReducer', value: { requestId, flags: callId !== undefined ? CALL_ID_FLAG : 0, reducer, args: payload } });
    await reply;
  }

  /** Whether the connection ended (closed here, or by the server). */
  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ws.onclose = null;
    this.#ws.close(1000, 'sync stopped');
    this.#failWaiting(new SyncError('DISCONNECTED', 'the replica closed its connection'));
  }

  #send(m: ClientMessage): void {
    if (!this.#v3) {
      const w = new BinaryWriter(128);
      ClientMessage.serialize(w, m);
      this.#ws.send(w.getBuffer().slice());
      return;
    }
    // v3: everything sent in this turn leaves in one frame (a new one past MAX_V3_FRAME).
    const w = this.#out;
    const before = w.offset;
    try {
      ClientMessage.serialize(w, m);
    } catch (e) {
      w.offset = before; // nothing of a message that did not encode stays in the frame
      throw e;
    }
    if (before > 0 && w.offset > MAX_V3_FRAME) {
      const frame = w.getBuffer();
      this.#ws.send(frame.slice(0, before));
      const rest = frame.slice(before);
      w.clear();
      w.writeBytes(rest);
    }
    if (this.#flushing) return;
    this.#flushing = true;
    queueMicrotask(() => {
      this.#flushing = false;
      if (w.offset === 0) return;
      const frame = w.getBuffer().slice();
      w.clear();
      // A large frame does not keep its buffer for the life of the connection.
      if (frame.length > SHRINK_AFTER) this.#out = new BinaryWriter(1024);
      if (!this.#closed) this.#ws.send(frame);
    });
  }

  #wait(key: string, now?: (m: ServerMessage) => void): Promise<ServerMessage> {
    if (this.#closed) return Promise.reject(new SyncError('DISCONNECTED', 'the connection to the server is closed'));
    return new Promise((resolve, reject) => this.#waiting.set(key, { resolve, reject, ...(now ? { now } : {}) }));
  }

  #dispatch(m: ServerMessage): void {
    let key: string | undefined;
    switch (m.tag) {
      case 'SubscribeApplied':
        key = `sub:${m.value.requestId}`;
        break;
      case 'SubscriptionError':
        if (m.value.requestId !== undefined) key = `sub:${m.value.requestId}`;
        else {
          this.#ws.onclose = null;
          this.#ws.close(1000, 'subscription ended');
          return this.#ended(`the server ended the replica's subscription: ${m.value.error}`, 'SUBSCRIBE_FAILED');
        }
        break;
      case 'ReducerResult':
        key = `call:${m.value.requestId}`;
        break;
      case 'TransactionUpdate':
        this.#o.onTransaction(transactionRows(m.value));
        return;
      default:
        return;
    }
    const w = this.#waiting.get(key);
    if (!w) return;
    this.#waiting.delete(key);
    w.now?.(m);
    w.resolve(m);
  }

  #ended(reason: string, failure?: 'PROTOCOL_ERROR' | 'SUBSCRIBE_FAILED'): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#failWaiting(new SyncError('DISCONNECTED', reason));
    this.#o.onClose(reason, failure && new SyncError(failure, reason));
  }

  #failWaiting(e: Error): void {
    for (const w of this.#waiting.values()) w.reject(e);
    this.#waiting.clear();
  }
}

/**
 * The messages of one server frame: exactly one (v2), or one or more back to back (v3). `error`
 * says why the rest of the frame (from the first message that does not decode) cannot be read.
 */
function decodeFrame(data: unknown, v3: boolean): { messages: ServerMessage[]; error?: string } {
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? data : undefined;
  if (!bytes || bytes.length === 0) return { messages: [], error: 'an empty or non-binary frame' };
  if (bytes[0] !== 0) return { messages: [], error: `compression tag ${bytes[0]} (sync asks for none)` };
  const reader = new BinaryReader(bytes.subarray(1));
  if (reader.remaining === 0) return { messages: [], error: 'a frame with no message' };
  const messages: ServerMessage[] = [];
  do {
    // v2: a frame with more than its message is malformed as a whole.
    if (!v3 && messages.length === 1) return { messages: [], error: `${reader.remaining} byte(s) after the message (v2 carries one message per frame)` };
    let m: ServerMessage | undefined;
    try {
      m = ServerMessage.deserialize(reader) as ServerMessage | undefined;
    } catch (e) {
      return { messages, error: e instanceof Error ? e.message : String(e) };
    }
    if (!m || typeof m !== 'object' || typeof m.tag !== 'string') return { messages, error: 'an unknown message tag' };
    messages.push(m);
  } while (reader.remaining > 0);
  return { messages };
}
