// One client connection of the wire protocol: its identity and connection id, its query sets
// (each a live-query subscriber of its own, so a row two sets hold is sent once per set, as the
// SDK's reference counts expect), its reducer and procedure calls, and its ordered outbox. The
// server (server.ts) tells it when a commit it took part in is complete; everything else comes
// from the frames its transport hands in.
import { AlgebraicType, BinaryReader, ConnectionId, type Identity, TimeDuration, Timestamp, type AlgebraicType as Ty } from 'spacetimedb';
import type { Engine } from '../engine/engine.ts';
import { SenderError } from '../errors.ts';
import { nowMicros } from '../host/host.ts';
import type { FunctionDef } from '../datastore/schema.ts';
import { encodeValue } from '../host/values.ts';
import type { LiveClient, QuerySetHandle, SubscriptionManager } from '../subscriptions/manager.ts';
import type { InitialRows, TableUpdate } from '../subscriptions/types.ts';
import type { QueryRows, QuerySetUpdate, ReducerOutcome, TableUpdate as WireTableUpdate } from './client-api.js';
import { decodeClientFrame, encodeServerMessage, encodeString, frameServerMessages, type ClientMessage, type OutgoingMessage, type WireProtocol } from './messages.ts';
import { Outbox } from './outbox.ts';
import type { RowEncoder } from './rows.ts';

/**
 * A transport's side of one connection, driven by the server: `open` once (the client may now
 * send), then frames, then at most one `close`. A WebSocket maps these to the upgrade's
 * subprotocol, binary messages and a close frame (whose reason it must cut to 123 bytes); a
 * MessagePort to messages of its own.
 */
export interface Link {
  /** The connection is accepted and speaks `protocol`. Called before any frame. */
  open(protocol: WireProtocol): void;
  /** One server frame: a bare payload, or tag byte + payload when the request asked for `tagged` framing. */
  send(frame: Uint8Array): void;
  /** The server ends the connection; nothing is sent after it. */
  close(code: number, reason: string): void;
}

/** WebSocket close codes the server uses. */
export const CLOSE_CODE = { normal: 1000, goingAway: 1001, refused: 1008, error: 1011, tryAgain: 1013 } as const;

/** What a connection needs from its server (one database). */
export interface Hub {
  readonly engine: Engine;
  readonly live: SubscriptionManager;
  readonly rows: RowEncoder;
  /** The durability of the last commit: what anything read now waits for under confirmed reads. */
  lastDurable(): Promise<void>;
  /** True while a commit's updates are being delivered (they belong to that commit). */
  inCommit(): boolean;
  /** Marks `conn` as holding updates of the commit in progress (it gets `commitDone`). */
  touch(conn: ProtocolConnection): void;
  /** Runs a reducer or procedure for `call`, so that its commit can be attributed to it. */
  call(call: PendingCall, name: string, args: unknown): Promise<unknown>;
  /** Calls one connection may have waiting; one more ends it (as SpacetimeDB's full queue does). */
  readonly maxPendingCalls: number;
  /** The connection ended. */
  forget(conn: ProtocolConnection): void;
}

/** A reducer or procedure call of a connection, while the engine runs it. */
export interface PendingCall {
  readonly conn: ProtocolConnection;
  readonly requestId: number;
  readonly kind: 'reducer' | 'procedure';
  /** Set when its reducer committed: the result then travels with that commit. */
  committed: boolean;
  /** The client's id for this call (with CALL_ID_FLAG): committed at most once. */
  callId?: string;
}

/** A commit the connection received updates of (or made). */
export interface CommitInfo {
  readonly durable: Promise<void>;
  /** Microseconds since the Unix epoch: the reducer's start. */
  readonly timestamp: bigint;
}

/** What the server settled for a connection when it accepted it. */
export interface ConnectionOptions {
  protocol: WireProtocol;
  identity: Identity;
  connectionId: ConnectionId;
  token: string;
  /** What `clientConnected` and `ctx.senderAuth` see of the caller's token. */
  authJwt: string;
  confirmedReads: boolean;
  tagged: boolean;
  compress: { tag: 1 | 2; compress: (payload: Uint8Array) => Uint8Array } | undefined;
}

interface QuerySet {
  readonly id: number;
  readonly requestId: number;
  state: 'pending' | 'applied' | 'dropping';
  readonly client: LiveClient;
  handle: QuerySetHandle | undefined;
  unsubscribe: { requestId: number; sendRows: boolean } | undefined;
  /** The set's rows delivered as deletes while it is dropped (outside any commit). */
  dropped: TableUpdate[];
}

/** Frames a connection buffers while `clientConnected` runs; more is refused (SpacetimeDB's queue limit is far larger, but a client that sends this much before its connection exists is broken). */
const MAX_EARLY_FRAMES = 1024;

/** One accepted connection; its transport feeds it with `receive` and ends it with `end`. */
export class ProtocolConnection {
  readonly protocol: WireProtocol;
  readonly identity: Identity;
  readonly connectionId: ConnectionId;
  readonly token: string;
  readonly #authJwt: string;
  readonly confirmedReads: boolean;
  readonly #hub: Hub;
  readonly #link: Link;
  readonly #outbox: Outbox;
  #state: 'connecting' | 'open' | 'closed' = 'connecting';
  /** Whether `clientConnected` succeeded (then `clientDisconnected` runs at the end). */
  #connected = false;
  readonly #early: Uint8Array[] = [];
  readonly #sets = new Map<number, QuerySet>();
  readonly #dropping = new Set<QuerySet>();
  /** This connection's query-set updates of the commit in progress. */
  #commitUpdates: QuerySetUpdate[] = [];
  /** Its reducer and procedure calls not settled yet. */
  #pendingCalls = 0;
  /** The identity as hex, made once: every call with a call id is keyed by it. */
  #identityHexText: string | undefined;

  constructor(hub: Hub, link: Link, opts: ConnectionOptions) {
    this.#hub = hub;
    this.#link = link;
    this.protocol = opts.protocol;
    this.identity = opts.identity;
    this.connectionId = opts.connectionId;
    this.token = opts.token;
    this.#authJwt = opts.authJwt;
    this.confirmedReads = opts.confirmedReads;
    const { protocol, tagged, compress } = opts;
    this.#outbox = new Outbox({
      flush: (messages) => {
        for (const frame of frameServerMessages(protocol, messages, tagged, compress)) this.#link.send(frame);
      },
      failed: (e) => this.#close(CLOSE_CODE.error, `a transaction could not be made durable, so the connection ends (reconnect): ${errorText(e)}`),
    });
  }

  /** True until the connection ended (either side). */
  get active(): boolean {
    return this.#state !== 'closed';
  }

  /** Runs `clientConnected`, then sends `InitialConnection` and handles what the client sent meanwhile. */
  async start(): Promise<void> {
    try {
      await this.#hub.engine.connectClient(this.identity, this.connectionId.__connection_id__, this.#authJwt);
    } catch (e) {
      // As SpacetimeDB: the connection was opened, and is dropped without a message.
      if (this.#state !== 'closed') this.#close(e instanceof SenderError ? CLOSE_CODE.refused : CLOSE_CODE.error, `client_connected refused the connection: ${errorText(e)}`);
      return;
    }
    this.#connected = true;
    if (this.#state === 'closed') {
      this.#disconnect();
      return;
    }
    this.#state = 'open';
    this.#send({ tag: 'InitialConnection', value: { identity: this.identity, connectionId: this.connectionId, token: this.token } });
    for (const frame of this.#early.splice(0)) {
      if (this.#state !== 'open') break;
      this.receive(frame);
    }
  }

  /** One client frame (handed over: not reused by the transport). A malformed frame ends the connection. */
  receive(frame: Uint8Array): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'connecting') {
      if (this.#early.length >= MAX_EARLY_FRAMES) return this.#close(CLOSE_CODE.tryAgain, `more than ${MAX_EARLY_FRAMES} frames arrived before the connection was established`);
      this.#early.push(frame);
      return;
    }
    let messages: ClientMessage[];
    try {
      messages = decodeClientFrame(this.protocol, frame);
    } catch (e) {
      return this.#close(CLOSE_CODE.error, errorText(e));
    }
    for (const m of messages) {
      if (this.#state !== 'open') return;
      try {
        this.#dispatch(m);
      } catch (e) {
        // A bug of ours, not the client's: the connection cannot be trusted to be consistent.
        return this.#close(CLOSE_CODE.error, `internal error handling ${m.tag}: ${errorText(e)}`);
      }
    }
  }

  /** The transport is gone (the client closed it, or it failed): ends subscriptions, runs `clientDisconnected`. */
  end(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#outbox.close();
    for (const set of this.#sets.values()) set.client.close();
    for (const set of this.#dropping) set.client.close();
    this.#sets.clear();
    this.#dropping.clear();
    this.#early.length = 0;
    this.#commitUpdates = [];
    this.#hub.forget(this);
    if (this.#connected) this.#disconnect();
  }

  /** Ends the connection from the server's side. */
  close(code: number, reason: string): void {
    this.#close(code, reason);
  }

  // ---- commits (called by the server) ----------------------------------------------------------

  /**
   * A commit this connection received updates of, or made, is complete: send its updates — in
   * the `ReducerResult` of `requestId` when the connection's own reducer call made it (even when
   * empty), else as a `TransactionUpdate` when there are any.
   */
  commitDone(commit: CommitInfo, requestId: number | undefined): void {
    const querySets = this.#commitUpdates;
    this.#commitUpdates = [];
    if (this.#state !== 'open') return;
    const gate = this.confirmedReads ? commit.durable : undefined;
    if (requestId !== undefined) {
      const timestamp = new Timestamp(commit.timestamp);
      const result: ReducerOutcome = { tag: 'Ok', value: { retValue: new Uint8Array(0), transactionUpdate: { querySets } } };
      // If storage refuses the transaction, the caller's call still settles, as an InternalError.
      const instead = (e: unknown) =>
        encodeServerMessage({ tag: 'ReducerResult', value: { requestId, timestamp, result: { tag: 'InternalError', value: `the transaction could not be made durable: ${errorText(e)}` } } });
      this.#outbox.push(encodeServerMessage({ tag: 'ReducerResult', value: { requestId, timestamp, result } }), gate, instead);
    } else if (querySets.length > 0) {
      this.#outbox.push(this.#hub.rows.transactionUpdate(querySets), gate);
    }
  }

  // ---- messages ------------------------------------------------------------------------------

  #dispatch(m: ClientMessage): void {
    switch (m.tag) {
      case 'Subscribe':
        return this.#subscribe(m.value.requestId, m.value.querySetId.id, m.value.queryStrings);
      case 'Unsubscribe':
        return this.#unsubscribe(m.value.requestId, m.value.querySetId.id, m.value.flags.tag === 'SendDroppedRows');
      case 'OneOffQuery':
        return this.#oneOffQuery(m.value.requestId, m.value.queryString);
      case 'CallReducer': {
        if (m.value.flags === CALL_ID_FLAG) {
          const split = splitCallId(m.value.args);
          if (!split) return this.#close(CLOSE_CODE.error, 'malformed client message: a CallReducer with a call id must start its args with the id as a BSATN string (1 to 200 bytes)');
          return this.#callReducer(m.value.requestId, m.value.reducer, split.args, `${this.#identityHex}/${split.id}`);
        }
        if (m.value.flags !== 0) return this.#close(CLOSE_CODE.error, `malformed client message: CallReducer flags must be 0, got ${m.value.flags}`);
        return this.#callReducer(m.value.requestId, m.value.reducer, m.value.args);
      }
      case 'CallProcedure':
        if (m.value.flags !== 0) return this.#close(CLOSE_CODE.error, `malformed client message: CallProcedure flags must be 0, got ${m.value.flags}`);
        return this.#callProcedure(m.value.requestId, m.value.procedure, m.value.args);
    }
  }

  #subscribe(requestId: number, id: number, queryStrings: readonly string[]): void {
    if (this.#sets.has(id)) {
      // SpacetimeDB ends the connection too: an error naming this id would make the SDK forget the live set.
      return this.#close(CLOSE_CODE.error, `query set ${id} is already subscribed: unsubscribe it first, or use a new query set id`);
    }
    // Identical queries of one set count once (as SpacetimeDB dedupes them).
    const queries = [...new Set(queryStrings)];
    const client = this.#hub.live.connect({
      sender: this.identity.__identity__,
      inline: true,
      onUpdate: (update) => this.#setUpdate(set, update),
      onError: (e) => this.#setFailed(set, e),
    });
    const set: QuerySet = { id, requestId, state: 'pending', client, handle: undefined, unsubscribe: undefined, dropped: [] };
    this.#sets.set(id, set);
    const handle = client.subscribe(queries, { onApplied: (rows) => this.#applied(set, rows) });
    set.handle = handle;
    handle.applied.catch((e: unknown) => this.#setFailed(set, e));
  }

  /** Inside the subscribe's engine turn: the set's rows of one snapshot. */
  #applied(set: QuerySet, rows: InitialRows): void {
    if (this.#state !== 'open' || set.state !== 'pending') return;
    set.state = 'applied';
    const value = { requestId: set.requestId, querySetId: { id: set.id }, rows: this.#queryRows(rows) };
    this.#send({ tag: 'SubscribeApplied', value }, this.#readGate());
    if (set.unsubscribe) this.#drop(set);
  }

  #unsubscribe(requestId: number, id: number, sendRows: boolean): void {
    const set = this.#sets.get(id);
    if (!set || set.unsubscribe) {
      this.#send({ tag: 'SubscriptionError', value: { requestId, querySetId: { id }, error: `query set ${id} is not subscribed, so it cannot be unsubscribed` } });
      return;
    }
    set.unsubscribe = { requestId, sendRows };
    // A set still being applied is dropped right after its rows are sent.
    if (set.state === 'applied') this.#drop(set);
  }

  #drop(set: QuerySet): void {
    set.state = 'dropping';
    // The id is free again at once (SpacetimeDB processes the unsubscribe before the next message).
    this.#sets.delete(set.id);
    this.#dropping.add(set);
    set.handle!.unsubscribe();
    // Queued right behind the unsubscribe's turn: its deletes were delivered by then.
    // Left unanswered, the client would wait for its UnsubscribeApplied for ever: it must learn why.
    this.#hub.engine
      .exclusive(() => this.#dropped(set))
      .catch((e: unknown) => this.#close(CLOSE_CODE.error, `query set ${set.id} could not be unsubscribed, so the connection ends (reconnect): ${errorText(e)}`));
  }

  #dropped(set: QuerySet): void {
    if (!this.#dropping.delete(set)) return;
    set.client.close();
    const u = set.unsubscribe!;
    let rows: QueryRows | undefined;
    if (u.sendRows) {
      rows = { tables: [] };
      for (const t of set.dropped) {
        if (t.deletes.length) rows.tables.push({ table: t.table, rows: this.#hub.rows.rowList(this.#hub.rows.table(t.table), t.deletes) });
      }
    }
    this.#send({ tag: 'UnsubscribeApplied', value: { requestId: u.requestId, querySetId: { id: set.id }, rows } }, this.#readGate());
  }

  /** A set's rows changed: inside a commit (its update), or while it is dropped (its deletes). */
  #setUpdate(set: QuerySet, update: TableUpdate[]): void {
    if (this.#state !== 'open') return;
    if (this.#hub.inCommit()) {
      const tables = update.map((t) => this.#tableUpdate(t));
      this.#commitUpdates.push({ querySetId: { id: set.id }, tables });
      this.#hub.touch(this);
    } else if (set.state === 'dropping') {
      set.dropped.push(...update);
    } else {
      this.#close(CLOSE_CODE.error, `internal error: query set ${set.id} received rows outside a commit`);
    }
  }

  /**
   * A set was refused (a query does not compile, a view it reads throws: `SubscriptionError` with
   * its request id, the connection stays) or failed once applied (a view throwing after a commit,
   * the module published again: fatal, `SubscriptionError` without request id, then the
   * connection ends, because the SDK cannot take back that set's rows alone).
   */
  #setFailed(set: QuerySet, e: unknown): void {
    if (this.#state !== 'open') return;
    if (set.state === 'pending') {
      if (this.#sets.get(set.id) !== set) return; // reported already
      this.#sets.delete(set.id);
      set.client.close();
      this.#send({ tag: 'SubscriptionError', value: { requestId: set.requestId, querySetId: { id: set.id }, error: errorText(e) } });
      return;
    }
    const error = `query set ${set.id} failed after it was applied, so the connection ends (reconnect and subscribe again): ${errorText(e)}`;
    this.#send({ tag: 'SubscriptionError', value: { requestId: undefined, querySetId: { id: set.id }, error } });
    this.#outbox.afterQueued(() => this.#close(CLOSE_CODE.error, error));
  }

  #oneOffQuery(requestId: number, query: string): void {
    const client = this.#hub.live.connect({ sender: this.identity.__identity__, inline: true });
    const handle = client.subscribe([query], {
      onApplied: (rows) => {
        if (this.#state === 'open') this.#send({ tag: 'OneOffQueryResult', value: { requestId, result: { ok: this.#queryRows(rows) } } }, this.#readGate());
      },
    });
    handle.applied.then(
      () => client.close(),
      (e: unknown) => {
        client.close();
        if (this.#state === 'open') this.#send({ tag: 'OneOffQueryResult', value: { requestId, result: { err: errorText(e) } } });
      },
    );
  }

  #callReducer(requestId: number, name: string, argBytes: Uint8Array, callId?: string): void {
    const started = nowMicros();
    const host = this.#hub.engine.host;
    const def = host.reducer(name);
    if (!def) return this.#reducerFailed(requestId, started, `no such reducer: ${name}`);
    let args: unknown;
    try {
      args = decodeArgs(def, argBytes, host.schema.typespace);
    } catch (e) {
      return this.#reducerFailed(requestId, started, `the arguments of reducer ${name} do not decode: ${errorText(e)}`);
    }
    const call: PendingCall = { conn: this, requestId, kind: 'reducer', committed: false, ...(callId !== undefined ? { callId } : {}) };
    // Success is answered with the commit (see commitDone); only a failure is answered here, and
    // a call id the database had already committed (a resend), which commits nothing new.
    this.#run(call, name, args).then(
      () => {
        if (!call.committed && this.#state === 'open') {
          this.#send({ tag: 'ReducerResult', value: { requestId, timestamp: new Timestamp(started), result: { tag: 'OkEmpty', value: {} } as ReducerOutcome } });
        }
      },
      (e: unknown) => {
        if (!call.committed) this.#reducerFailed(requestId, started, e);
      },
    );
  }

  /** `Err` (the module's SenderError message as BSATN string) or `InternalError`; nothing was committed. */
  #reducerFailed(requestId: number, started: bigint, e: unknown): void {
    if (this.#state !== 'open') return;
    const result: ReducerOutcome = e instanceof SenderError ? { tag: 'Err', value: encodeString(e.message) } : { tag: 'InternalError', value: errorText(e) };
    this.#send({ tag: 'ReducerResult', value: { requestId, timestamp: new Timestamp(started), result } });
  }

  #callProcedure(requestId: number, name: string, argBytes: Uint8Array): void {
    const started = nowMicros();
    const t0 = performance.now();
    const host = this.#hub.engine.host;
    const reply = (status: { tag: 'Returned'; value: Uint8Array } | { tag: 'InternalError'; value: string }) => {
      if (this.#state !== 'open') return;
      const micros = BigInt(Math.round((performance.now() - t0) * 1000));
      this.#send({ tag: 'ProcedureResult', value: { status, timestamp: new Timestamp(started), totalHostExecutionDuration: new TimeDuration(micros), requestId } });
    };
    const def = host.procedure(name);
    if (!def) return reply({ tag: 'InternalError', value: `no such procedure: ${name}` });
    let args: unknown;
    try {
      args = decodeArgs(def, argBytes, host.schema.typespace);
    } catch (e) {
      return reply({ tag: 'InternalError', value: `the arguments of procedure ${name} do not decode: ${errorText(e)}` });
    }
    // Its transactions reach every subscriber, this connection included, as TransactionUpdates
    // queued before this result (the call resolves once they are durable).
    this.#run({ conn: this, requestId, kind: 'procedure', committed: false }, name, args).then(
      (value) => reply({ tag: 'Returned', value: encodeValue(def.returnType, value, host.schema.typespace) }),
      (e: unknown) => reply({ tag: 'InternalError', value: errorText(e) }),
    );
  }

  /** Runs a call, ending the connection instead when it already has too many waiting. */
  #run(call: PendingCall, name: string, args: unknown): Promise<unknown> {
    if (this.#pendingCalls >= this.#hub.maxPendingCalls) {
      this.#close(CLOSE_CODE.tryAgain, `more than ${this.#hub.maxPendingCalls} calls of this connection are waiting: send fewer at a time`);
      return new Promise(() => {}); // the connection is gone: nothing answers this call
    }
    this.#pendingCalls++;
    return this.#hub.call(call, name, args).finally(() => this.#pendingCalls--);
  }

  // ---- helpers -------------------------------------------------------------------------------

  get #identityHex(): string {
    return (this.#identityHexText ??= this.identity.toHexString());
  }

  #send(msg: OutgoingMessage, gate?: Promise<void>): void {
    this.#outbox.push(encodeServerMessage(msg), gate);
  }

  /** What a snapshot read now waits for before it is sent. */
  #readGate(): Promise<void> | undefined {
    return this.confirmedReads ? this.#hub.lastDurable() : undefined;
  }

  #queryRows(rows: InitialRows): QueryRows {
    const tables: QueryRows['tables'] = [];
    for (const [name, list] of Object.entries(rows)) tables.push({ table: name, rows: this.#hub.rows.rowList(this.#hub.rows.table(name), list) });
    return { tables };
  }

  #tableUpdate(t: TableUpdate): WireTableUpdate {
    const rows = this.#hub.rows;
    return rows.tableUpdate(rows.table(t.table), t);
  }

  #close(code: number, reason: string): void {
    if (this.#state === 'closed') return;
    this.#link.close(code, reason);
    this.end();
  }

  #disconnect(): void {
    this.#hub.engine.disconnectClient(this.identity, this.connectionId.__connection_id__).catch(() => {
      // The database closed or its storage failed: there is nothing left to tell.
    });
  }
}

/**
 * CallReducer `flags` value by which a Lightcone client (sync) gives a call an id: its args start
 * with the id as a BSATN string. The database commits a call id once; a resend of a committed id
 * answers `OkEmpty` without running the reducer again. Only sent to servers that advertise it.
 */
export const CALL_ID_FLAG = 0x80;

/** The id and the reducer's own args of a CallReducer sent with CALL_ID_FLAG; undefined when malformed. */
function splitCallId(bytes: Uint8Array): { id: string; args: Uint8Array } | undefined {
  if (bytes.length < 4) return undefined;
  const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (len < 1 || len > 200 || 4 + len > bytes.length) return undefined;
  try {
    const id = strictUtf8.decode(bytes.subarray(4, 4 + len));
    return { id, args: bytes.subarray(4 + len) };
  } catch {
    return undefined;
  }
}

/** Call ids must be valid UTF-8 (one decoder for all: a whole-input decode keeps no state). */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

const argReaders = new WeakMap<FunctionDef, (r: BinaryReader) => unknown>();

/** Decodes a call's BSATN arguments with the function's parameter types; every byte must be used. */
function decodeArgs(def: FunctionDef, bytes: Uint8Array, typespace: { types: Ty[] }): unknown {
  let read = argReaders.get(def);
  if (!read) {
    read = AlgebraicType.makeDeserializer({ tag: 'Product', value: def.params } as Ty, typespace) as (r: BinaryReader) => unknown;
    argReaders.set(def, read);
  }
  const reader = new BinaryReader(bytes);
  let value: unknown;
  try {
    value = read(reader);
  } catch (e) {
    throw new Error(e instanceof Error ? e.message : String(e));
  }
  if (reader.remaining > 0) throw new Error(`${reader.remaining} byte(s) are left over after the last parameter`);
  return value;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A random connection id (never zero: zero means "no connection" to modules). */
export function randomConnectionId(): ConnectionId {
  const b = new Uint8Array(16);
  let v = 0n;
  do {
    globalThis.crypto.getRandomValues(b);
    v = 0n;
    for (const x of b) v = (v << 8n) | BigInt(x);
  } while (v === 0n);
  return new ConnectionId(v);
}
