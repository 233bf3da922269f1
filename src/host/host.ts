// One module instance over one datastore: creates the module's tables, runs reducers (one
// transaction each), lifecycle hooks and procedures with SpacetimeDB's context and error rules,
// and hands every commit's TxDelta to its listeners.
import type { Datastore, TxDelta } from '../datastore/datastore.ts';
import { DatastoreError, Errno } from '../datastore/datastore-error.ts';
import { decodeValue } from './values.ts';
import { decodeHttpRequest, decodeHttpResponse, encodeHttpRequest, encodeHttpResponse, type RouteResponse, type SyncHttp } from './http-wire.ts';
import { AlgebraicType, BinaryReader, type AlgebraicType as AlgebraicTypeT } from 'spacetimedb';
import { ModuleError, UsageError } from '../errors.ts';
import { errText, loadModule, type ModuleHooks } from './load-module.ts';
import type { FunctionDef, HttpHandlerDef, ModuleSchema, ProcedureDef, ViewDef } from '../datastore/schema.ts';
import { readModuleDef, viewTableDef } from './module-def.ts';
import { Syscalls, type SyscallHost } from './syscalls.ts';
import { installPolyfills } from './polyfills.ts';

/** Log levels as SpacetimeDB names them. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'panic';
/** One line of a database's log. */
export interface LogEntry {
  /** Milliseconds since the Unix epoch. */
  ts: number;
  level: LogLevel;
  message: string;
}

const LEVELS: Record<number, LogLevel> = { 0: 'error', 1: 'warn', 2: 'info', 3: 'debug', 4: 'trace', 101: 'panic' };

/** Who is calling and when. */
export interface CallContext {
  sender: bigint;
  /** 0n = no connection (scheduled calls, init). */
  connectionId: bigint;
  /** Microseconds since the Unix epoch. */
  timestamp: bigint;
  /** Idempotency id of the call this transaction belongs to: handed to commit listeners with it. */
  callId?: string;
}

/** How a reducer call ended. */
export type ReducerOutcome = { status: 'committed'; delta: TxDelta } | { status: 'failed'; kind: 'sender' | 'internal'; message: string };

export interface HostOptions {
  datastore: Datastore;
  /** CommonJS module bundle from `bundleModule`. */
  code: string;
  databaseIdentity: bigint;
  log: (entry: LogEntry) => void;
  /** Synchronous HTTP for `ctx.http.fetch` in procedures; without it, fetch fails with HttpError. */
  http?: SyncHttp | undefined;
}

/** Microseconds since the Unix epoch, never going backwards within a process. */
let lastMicros = 0;
export function nowMicros(): bigint {
  // In doubles (exact: µs since 1970 stay below 2^53 until the year 2255), one BigInt at the end.
  let t = Date.now() * 1000;
  if (t <= lastMicros) t = lastMicros + 1;
  lastMicros = t;
  return BigInt(t);
}

export class Host implements SyscallHost {
  readonly datastore: Datastore;
  readonly schema: ModuleSchema;
  readonly describe: Uint8Array;
  readonly databaseIdentity: bigint;
  readonly #syscalls: Syscalls;
  #hooks: ModuleHooks | undefined;
  readonly #log: (entry: LogEntry) => void;
  readonly #listeners = new Set<(delta: TxDelta, ctx: CallContext, reducer: string) => void>();
  readonly #http: SyncHttp | undefined;
  #anonTx = false;
  #anonCtx: CallContext | undefined;
  #anonName = '';
  #reducersByName = new Map<string, FunctionDef>();
  #proceduresByName = new Map<string, ProcedureDef>();

  /** Loads the module and attaches (creating if missing) its tables. */
  constructor(opts: HostOptions) {
    installPolyfills();
    this.datastore = opts.datastore;
    this.databaseIdentity = opts.databaseIdentity;
    this.#log = opts.log;
    this.#http = opts.http;
    this.#syscalls = new Syscalls(this);
    const hostConsole = makeFallbackConsole(this);
    const loaded = loadModule(opts.code, this.#syscalls.sys20, this.#syscalls.sys21, hostConsole);
    this.#hooks = loaded.hooks;
    this.describe = loaded.describe;
    this.schema = readModuleDef(loaded.moduleDef);
    for (const t of this.schema.tables) {
      try {
        this.datastore.addTable(t, this.schema.typespace);
      } catch (e) {
        throw new ModuleError('MODULE_INVALID', `table ${t.name} cannot be created: ${errText(e)}`, { table: t.name }, { cause: e });
      }
    }
    for (const v of this.schema.views) {
      try {
        // A view's table only holds rows during a query: recreate it for this module's row type.
        this.datastore.dropStoredTable(v.name);
        this.datastore.addTable(viewTableDef(v), this.schema.typespace);
      } catch (e) {
        throw new ModuleError('MODULE_INVALID', `view ${v.name} cannot be read by SQL: ${errText(e)}`, { view: v.name }, { cause: e });
      }
    }
    for (const r of this.schema.reducers) {
      this.#reducersByName.set(r.name, r);
      this.#reducersByName.set(r.canonicalName, r);
    }
    for (const p of this.schema.procedures) {
      this.#proceduresByName.set(p.name, p);
      this.#proceduresByName.set(p.canonicalName, p);
    }
  }

  get hooks(): ModuleHooks | undefined {
    return this.#hooks;
  }

  /** Subscribes to commits; returns the unsubscribe function. */
  onCommit(listener: (delta: TxDelta, ctx: CallContext, reducer: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  reducer(name: string): FunctionDef | undefined {
    return this.#reducersByName.get(name);
  }
  procedure(name: string): ProcedureDef | undefined {
    return this.#proceduresByName.get(name);
  }

  log(level: number, message: string): void {
    this.#log({ ts: Date.now(), level: LEVELS[level] ?? 'debug', message });
  }

  // ---- reducers ------------------------------------------------------------------------------

  /**
   * Runs one reducer in its own transaction. A SenderError is the caller's failure; any other
   * throw is internal and logged. Both roll back everything.
   */
  callReducer(reducer: FunctionDef, args: Uint8Array, ctx: CallContext, beforeCommit?: () => void): ReducerOutcome {
    const ds = this.datastore;
    if (ds.inTransaction) throw new UsageError('TX_OPEN', 'a reducer cannot start while another transaction is open');
    ds.begin();
    let failure = this.#invokeReducer(reducer, args, ctx);
    if (!failure && beforeCommit) {
      try {
        beforeCommit();
      } catch (e) {
        failure = { status: 'failed', kind: 'internal', message: errText(e) };
      }
    }
    if (failure) {
      ds.rollback();
      return failure;
    }
    const delta = ds.commit();
    this.#emit(delta, ctx, reducer.name);
    return { status: 'committed', delta };
  }

  /** Calls the reducer hook inside the open transaction; returns the failure, if any. */
  #invokeReducer(reducer: FunctionDef, args: Uint8Array, ctx: CallContext): { status: 'failed'; kind: 'sender' | 'internal'; message: string } | undefined {
    const hooks = this.#hooks!;
    let thrown: unknown;
    let failed = false;
    try {
      const ret = hooks.__call_reducer__(reducer.id, ctx.sender, ctx.connectionId, ctx.timestamp, new DataView(args.buffer, args.byteOffset, args.byteLength));
      if (ret !== undefined) {
        failed = true;
        thrown = new TypeError('Reducer returned a value other than `undefined`');
      }
    } catch (e) {
      failed = true;
      thrown = e;
    }
    const poisoned = this.#syscalls.poisoned;
    const leftovers = this.#syscalls.endCall();
    if (leftovers > 0) this.log(1, `${reducer.name}: ${leftovers} iterator(s) or timer(s) were left open and have been closed`);
    if (poisoned !== undefined) {
      this.log(101, `${reducer.name}: host error: ${errText(poisoned)}`);
      return { status: 'failed', kind: 'internal', message: `The instance encountered a fatal error: ${errText(poisoned)}` };
    }
    if (!failed) return undefined;
    if (thrown instanceof hooks.__sender_error_class__) {
      return { status: 'failed', kind: 'sender', message: String((thrown as Error).message) };
    }
    const stack = thrown instanceof Error && thrown.stack ? `\n${cutStack(thrown.stack)}` : '';
    this.log(101, `reducer ${reducer.name} failed: ${errorLabel(thrown)}${stack}`);
    return { status: 'failed', kind: 'internal', message: errorLabel(thrown) };
  }

  #emit(delta: TxDelta, ctx: CallContext, name: string): void {
    for (const l of this.#listeners) l(delta, ctx, name);
  }

  /** Runs `f` (datastore writes) as one transaction outside any reducer, e.g. SQL DML. Throws roll back. */
  runSystemTransaction(name: string, sender: bigint, f: () => void): TxDelta {
    const ds = this.datastore;
    ds.begin();
    try {
      f();
    } catch (e) {
      ds.rollback();
      throw e;
    }
    const delta = ds.commit();
    this.#emit(delta, { sender, connectionId: 0n, timestamp: nowMicros() }, name);
    return delta;
  }

  // ---- views ---------------------------------------------------------------------------------

  /**
   * Runs a view inside the open transaction, read-only. Returns its rows (BSATN, one per row) or
   * the SQL its query builder produced, and the tables it read (its read set, table level).
   * Throws an Error naming the view when the view throws or returns something malformed.
   */
  callView(view: ViewDef, sender: bigint): { result: { kind: 'rows'; rows: Uint8Array[] } | { kind: 'sql'; sql: string }; reads: Set<string> } {
    if (!this.datastore.inTransaction) throw new UsageError('NO_TX', 'views run inside a transaction');
    const sc = this.#syscalls;
    const ids = new Set<number>();
    const mark = sc.iterMark();
    const poisoned = sc.poisoned;
    sc.viewReads = ids;
    let out: { data: Uint8Array } | Uint8Array;
    try {
      out = view.isAnonymous ? this.#hooks!.__call_view_anon__(view.id, new Uint8Array(0)) : this.#hooks!.__call_view__(view.id, sender, new Uint8Array(0));
    } catch (e) {
      throw new Error(`view ${view.name} failed: ${errorLabel(e)}`, { cause: e });
    } finally {
      sc.viewReads = undefined;
      // Only the view's own state: a view may run inside a procedure's commit, whose state stays.
      sc.closeItersFrom(mark);
      sc.poisoned = poisoned;
    }
    const reads = new Set([...ids].map((id) => this.datastore.table(id).def.name));
    const data = ArrayBuffer.isView(out) ? (out as Uint8Array) : (out as { data: Uint8Array }).data;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const r = new BinaryReader(bytes);
    const tag = r.readU8();
    if (tag === 1) return { result: { kind: 'sql', sql: r.readString() }, reads };
    if (tag !== 0) throw new Error(`view ${view.name} returned an unknown result header ${tag}`);
    const de = (this.#rowReaders.get(view) ?? this.#rowReaders.set(view, AlgebraicType.makeDeserializer({ tag: 'Product', value: view.rowType } as AlgebraicTypeT, this.schema.typespace)).get(view))!;
    const rows: Uint8Array[] = [];
    for (let n = r.readU32(); n > 0; n--) {
      const start = r.offset;
      de(r);
      rows.push(bytes.slice(start, r.offset));
    }
    return { result: { kind: 'rows', rows }, reads };
  }
  readonly #rowReaders = new Map<ViewDef, (r: BinaryReader) => unknown>();

  // ---- procedures ----------------------------------------------------------------------------

  /** Runs a procedure (no transaction open; it opens its own with `ctx.withTx`). Returns its BSATN result. */
  callProcedure(proc: ProcedureDef, args: Uint8Array, ctx: CallContext): { ok: true; value: Uint8Array } | { ok: false; message: string } {
    if (this.datastore.inTransaction) throw new UsageError('TX_OPEN', 'a procedure cannot start while a transaction is open');
    this.#anonCtx = ctx;
    this.#anonName = proc.name;
    try {
      const out = this.#hooks!.__call_procedure__(proc.id, ctx.sender, ctx.connectionId, ctx.timestamp, args);
      return { ok: true, value: new Uint8Array(out.buffer, out.byteOffset, out.byteLength).slice() };
    } catch (e) {
      this.log(101, `procedure ${proc.name} failed: ${errorLabel(e)}`);
      return { ok: false, message: errorLabel(e) };
    } finally {
      if (this.#anonTx) this.abortAnonTx();
      this.#syscalls.endCall();
      this.#anonCtx = undefined;
    }
  }

  // ---- HTTP handlers -------------------------------------------------------------------------

  /**
   * Runs an HTTP handler (no transaction open; it opens its own with `ctx.withTx`, as a procedure
   * does). Returns the response it built, or the failure when it threw.
   */
  callHttpHandler(
    handler: HttpHandlerDef,
    req: { method: string; uri: string; headers: [string, string][]; body: Uint8Array },
    timestamp: bigint,
  ): { ok: true; response: RouteResponse } | { ok: false; message: string } {
    if (this.datastore.inTransaction) throw new UsageError('TX_OPEN', 'an HTTP handler cannot start while a transaction is open');
    const hook = this.#hooks!.__call_http_handler__;
    if (!hook) return { ok: false, message: 'the module runtime has no HTTP handlers' };
    this.#anonCtx = { sender: this.databaseIdentity, connectionId: 0n, timestamp };
    this.#anonName = handler.name;
    try {
      const [response, body] = hook.call(this.#hooks, handler.id, timestamp, encodeHttpRequest(req), req.body);
      return { ok: true, response: decodeHttpResponse(response, body) };
    } catch (e) {
      const stack = e instanceof Error && e.stack ? `\n${cutStack(e.stack)}` : '';
      this.log(101, `HTTP handler ${handler.name} failed: ${errorLabel(e)}${stack}`);
      return { ok: false, message: errorLabel(e) };
    } finally {
      if (this.#anonTx) this.abortAnonTx();
      this.#syscalls.endCall();
      this.#anonCtx = undefined;
    }
  }

  get anonTxOpen(): boolean {
    return this.#anonTx;
  }
  startAnonTx(): bigint {
    this.datastore.begin();
    this.#anonTx = true;
    return nowMicros();
  }
  commitAnonTx(): void {
    this.#anonTx = false;
    const delta = this.datastore.commit();
    const ctx = this.#anonCtx ?? { sender: this.databaseIdentity, connectionId: 0n, timestamp: nowMicros() };
    this.#emit(delta, { ...ctx, sender: this.databaseIdentity }, this.#anonName);
  }
  abortAnonTx(): void {
    this.#anonTx = false;
    this.datastore.rollback();
  }

  /** Validates a schedule row as SpacetimeDB does on insert/update: a delay must be positive and below 2^36−1 ms. */
  onScheduleWrite(tableName: string, row: Uint8Array): void {
    const t = this.schema.tables.find((x) => x.name === tableName);
    if (!t?.schedule) return;
    const obj = decodeValue({ tag: 'Product', value: t.rowType } as AlgebraicTypeT, row, this.schema.typespace) as Record<string, unknown>;
    const at = obj[t.columns[t.schedule.scheduleAtCol]!.name] as { tag: string; value: Record<string, bigint> };
    const max = ((1n << 36n) - 1n) * 1000n;
    if (at.tag === 'Interval') {
      const d = at.value.__time_duration_micros__!;
      if (d <= 0n) throw new DatastoreError(Errno.SCHEDULE_AT_DELAY_TOO_LONG, `a schedule interval must be positive, got ${d}µs (${t.name})`);
      if (d >= max) throw new DatastoreError(Errno.SCHEDULE_AT_DELAY_TOO_LONG, `interval of ${d}µs in ${t.name} is longer than 2^36-1 ms`);
    } else {
      const delay = at.value.__timestamp_micros_since_unix_epoch__! - nowMicros();
      if (delay >= max) throw new DatastoreError(Errno.SCHEDULE_AT_DELAY_TOO_LONG, `schedule time in ${t.name} is more than 2^36-1 ms away`);
    }
  }

  /** The JWT payload (JSON) of a connection's caller, '' for none: the engine supplies it (see Engine). */
  jwtSource: (connectionId: bigint) => string = () => '';

  jwtPayload(connectionId: bigint): string {
    return connectionId === 0n ? '' : this.jwtSource(connectionId);
  }

  /** Runs `volatile_nonatomic_schedule_immediate`'s call after the current one: the engine supplies it. */
  immediateSink: ((name: string, args: Uint8Array) => void) | undefined;

  scheduleImmediate(name: string, args: Uint8Array): void {
    if (!this.immediateSink) throw new DatastoreError(Errno.HOST_CALL_FAILURE, 'volatile_nonatomic_schedule_immediate: this host has no scheduler');
    this.immediateSink(name, args);
  }

  httpRequest(request: Uint8Array, body: Uint8Array | string): [Uint8Array, Uint8Array] {
    if (!this.#http) throw new Error('HTTP is not available to procedures in this host');
    const req = decodeHttpRequest(request, body);
    return encodeHttpResponse(this.#http(req));
  }
}

/** The console a module sees before its own polyfill installs (only during the first import lines). */
function makeFallbackConsole(host: Host): Console {
  const f =
    (level: number) =>
    (...args: unknown[]): void =>
      host.log(level, args.map((a) => (typeof a === 'string' ? a : String(a))).join(' '));
  return { log: f(2), info: f(2), warn: f(1), error: f(0), debug: f(3), trace: f(4) } as unknown as Console;
}

function errorLabel(e: unknown): string {
  if (e instanceof Error) return e.name && e.name !== 'Error' ? `${e.name}: ${e.message}` : e.message;
  return errText(e);
}

/** Cuts a JS stack at the runtime's marker frame, as SpacetimeDB does. */
function cutStack(stack: string): string {
  const lines = stack.split('\n').slice(1);
  const i = lines.findIndex((l) => l.includes('__spacetimedb_end_short_backtrace'));
  return (i >= 0 ? lines.slice(0, i) : lines).join('\n');
}

export { Errno };
