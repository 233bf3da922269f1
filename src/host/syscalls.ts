// The `spacetime:sys@2.0` and `@2.1` syscalls over the datastore, with the exact return types
// and errors the runtime expects (docs/host-abi.md §6). Datastore errors become the module's own error
// classes; anything without an errno "poisons" the call, as SpacetimeDB terminates it.
import type { Datastore } from '../datastore/datastore.ts';
import type { PackedRows } from '../datastore/fast-stmt.ts';
import { DatastoreError, Errno, errnoText } from '../datastore/datastore-error.ts';
import type { ModuleHooks } from './load-module.ts';

/** What the syscalls need from the host that owns them. */
export interface SyscallHost {
  readonly datastore: Datastore;
  readonly hooks: ModuleHooks | undefined;
  readonly databaseIdentity: bigint;
  log(level: number, message: string): void;
  /** JWT payload JSON for a connection, or '' when it has none. */
  jwtPayload(connectionId: bigint): string;
  /** Procedure transactions. */
  startAnonTx(): bigint;
  commitAnonTx(): void;
  abortAnonTx(): void;
  readonly anonTxOpen: boolean;
  httpRequest(request: Uint8Array, body: Uint8Array | string): [Uint8Array, Uint8Array];
  /** Queues a call of reducer or procedure `name` with BSATN `args`, to run after the current one. */
  scheduleImmediate?(name: string, args: Uint8Array): void;
  /** Called after every successful insert/update of a scheduled table's row. */
  onScheduleWrite?(tableName: string, row: Uint8Array): void;
}

/** The symbol the runtime reads hooks through; one per host realm. */
export const moduleHooks: unique symbol = Symbol('SpacetimeDB.moduleHooks.v2');

/** A scan's rows (see `PackedRows`; their bytes may be replaced by a copy) and the next one to hand out. */
interface Iter {
  rows: PackedRows;
  pos: number;
}

/** Syscall state of one module instance: iterators and timers, closed at the end of each call. */
export class Syscalls {
  readonly #host: SyscallHost;
  /**
   * Open iterators but the newest, by id. The newest is kept apart (`#hot`): most are made,
   * advanced once and done (a point lookup), and a Map that gains and loses one entry per lookup
   * spends more time resizing itself than the lookup takes.
   */
  readonly #iters = new Map<number, Iter>();
  #hotId = 0;
  #hot: Iter | undefined;
  #iterBuffer: ArrayBuffer | undefined;
  #iterView: Uint8Array | undefined;
  #nextIter = 1;
  readonly #timers = new Map<number, { name: string; start: number }>();
  #nextTimer = 1;
  /** Set when a syscall failed in a way the module must not continue from. */
  poisoned: unknown;
  /** While a view runs: the tables it reads (by id); writes are refused. */
  viewReads: Set<number> | undefined;
  readonly sys20: Record<string | symbol, unknown>;
  readonly sys21: Record<string, unknown>;

  constructor(host: SyscallHost) {
    this.#host = host;
    this.sys20 = this.#make20();
    this.sys21 = { datastore_clear: (tableId: number) => this.#ds(() => (this.#write(), BigInt(this.#host.datastore.clear(this.#host.datastore.table(tableId))))) };
  }

  /** Closes leftover iterators and timers; returns how many were open (the host logs a warning). */
  endCall(): number {
    const n = this.#iters.size + (this.#hot ? 1 : 0) + this.#timers.size;
    // Closed one by one, so that rows they still lent from the read buffer are released.
    if (this.#iters.size > 0) for (const id of [...this.#iters.keys()]) this.#closeIter(id);
    if (this.#hot) this.#closeIter(this.#hotId);
    this.#timers.clear();
    this.poisoned = undefined;
    return n;
  }

  /** The next iterator id: iterators created from here on can be closed with `closeItersFrom`. */
  iterMark(): number {
    return this.#nextIter;
  }

  /** Closes the iterators created since `mark` (a view's), leaving the caller's open. Returns how many. */
  closeItersFrom(mark: number): number {
    let n = 0;
    if (this.#hot && this.#hotId >= mark) {
      this.#closeIter(this.#hotId);
      n++;
    }
    if (this.#iters.size === 0) return n; // the common case: no key list to copy
    for (const id of [...this.#iters.keys()]) {
      if (id >= mark) {
        this.#closeIter(id);
        n++;
      }
    }
    return n;
  }

  /** Builds the error a module catches for `errno` (its own class when the hooks exist). */
  hostError(errno: number, message?: string): Error {
    const text = message ?? errnoText(errno);
    const hooks = this.#host.hooks;
    if (!hooks) return new Error(text);
    const Cls = hooks.__get_error_constructor__(errno);
    return new Cls(text);
  }

  /** Runs a datastore operation, translating its failures for the module. */
  #ds<T>(f: () => T): T {
    this.#enter();
    try {
      return f();
    } catch (e) {
      throw this.#failed(e);
    }
  }

  /** What every datastore syscall checks first: not poisoned, inside a transaction. */
  #enter(): void {
    if (this.poisoned !== undefined) throw this.poisoned;
    if (!this.#host.datastore.inTransaction) throw this.hostError(Errno.NOT_IN_TRANSACTION);
  }

  /** A datastore operation's failure as the module sees it (poisoning the instance when unexpected). */
  #failed(e: unknown): unknown {
    if (e instanceof DatastoreError) return this.hostError(e.errno, e.message);
    if (e instanceof RangeError) return e;
    this.poisoned = e;
    return e;
  }

  #bytes(buf: ArrayBuffer, len: number): Uint8Array {
    if (!(buf instanceof ArrayBuffer) && Object.prototype.toString.call(buf) !== '[object ArrayBuffer]') {
      throw new TypeError('expected an ArrayBuffer');
    }
    if (len > buf.byteLength || len < 0) throw new RangeError('length argument was out of bounds for ArrayBuffer');
    return new Uint8Array(buf, 0, len);
  }

  /** Records a read for the running view; refuses writes while a view runs. */
  #read(tableId: number): void {
    this.viewReads?.add(tableId);
  }
  #write(): void {
    if (this.viewReads) throw new DatastoreError(Errno.HOST_CALL_FAILURE, 'views are read-only: a view cannot insert, update or delete rows');
  }

  #newIter(rows: PackedRows): number {
    const id = this.#nextIter++;
    if (this.#hot) this.#iters.set(this.#hotId, this.#hot);
    this.#hot = { rows, pos: 0 };
    this.#hotId = id;
    return id;
  }

  #iter(id: number): Iter | undefined {
    return id === this.#hotId ? this.#hot : this.#iters.get(id);
  }

  /** Forgets iterator `id`; false when it was not open. */
  #closeIter(id: number): boolean {
    let it = this.#hot;
    if (id === this.#hotId && it) this.#dropHot();
    else {
      it = this.#iters.get(id);
      if (!it) return false;
      this.#iters.delete(id);
    }
    // Its rows may still be the datastore's read buffer: done with, they need no copy.
    this.#host.datastore.releaseRows(it.rows);
    return true;
  }

  #dropHot(): void {
    this.#hot = undefined;
    this.#hotId = 0; // never an iterator's id
  }

  #make20(): Record<string | symbol, unknown> {
    const host = this.#host;
    const ds = () => host.datastore;
    return {
      moduleHooks,
      table_id_from_name: (name: string) => {
        const t = ds().tableByName(name);
        if (!t) throw this.hostError(Errno.NO_SUCH_TABLE, `${errnoText(Errno.NO_SUCH_TABLE)}: ${name}`);
        return t.id;
      },
      index_id_from_name: (name: string) => {
        const ix = ds().indexByName(name);
        if (!ix) throw this.hostError(Errno.NO_SUCH_INDEX, `${errnoText(Errno.NO_SUCH_INDEX)}: ${name}`);
        return ix.id;
      },
      datastore_table_row_count: (tableId: number) =>
        this.#ds(() => {
          this.#read(tableId);
          return BigInt(ds().count(ds().table(tableId)));
        }),
      datastore_table_scan_bsatn: (tableId: number) =>
        this.#ds(() => {
          this.#read(tableId);
          return this.#newIter(ds().scanAllPacked(ds().table(tableId)));
        }),
      datastore_index_scan_point_bsatn: (indexId: number, point: ArrayBuffer, len: number) =>
        this.#ds(() => {
          const ix = ds().index(indexId);
          this.#read(ix.table.id);
          return this.#newIter(ds().scanPointPacked(ix, this.#bytes(point, len)));
        }),
      datastore_index_scan_range_bsatn: (indexId: number, buf: ArrayBuffer, prefixLen: number, prefixElems: number, rstartLen: number, rendLen: number) =>
        this.#ds(() => {
          const ix = ds().index(indexId);
          this.#read(ix.table.id);
          return this.#newIter(ds().scanRangePacked(ix, this.#bytes(buf, buf.byteLength), prefixLen, prefixElems, rstartLen, rendLen));
        }),
      row_iter_bsatn_advance: (iterId: number, buffer: ArrayBuffer) => this.#advance(iterId, buffer),
      row_iter_bsatn_close: (iterId: number) => {
        if (!this.#closeIter(iterId)) {
          // A finalizer may close an iterator of an earlier call; ids are never reused, so ignore it.
          if (!host.datastore.inTransaction && !host.anonTxOpen) return;
          throw this.hostError(Errno.NO_SUCH_ITER);
        }
      },
      // The hot path of bulk inserts: no closure (`#ds` inlined) and no copy of the row.
      datastore_insert_bsatn: (tableId: number, row: ArrayBuffer, len: number) => {
        this.#enter();
        try {
          this.#write();
          const store = host.datastore;
          const table = store.table(tableId);
          if (!table.def.schedule) return writeBack(row, store.insertGenerated(table, this.#bytes(row, len)));
          const res = store.insert(table, this.#bytes(row, len));
          host.onScheduleWrite?.(table.def.name, res.row);
          return writeBack(row, res.generated);
        } catch (e) {
          throw this.#failed(e);
        }
      },
      datastore_update_bsatn: (tableId: number, indexId: number, row: ArrayBuffer, len: number) =>
        this.#ds(() => {
          this.#write();
          const table = ds().table(tableId);
          const index = ds().index(indexId);
          if (index.table !== table) throw new DatastoreError(Errno.NO_SUCH_INDEX, `index ${index.def.sourceName} is not on table ${table.def.name}`);
          const res = ds().update(table, index, this.#bytes(row, len));
          if (table.def.schedule) host.onScheduleWrite?.(table.def.name, res.row);
          return writeBack(row, res.generated);
        }),
      datastore_delete_by_index_scan_point_bsatn: (indexId: number, point: ArrayBuffer, len: number) =>
        this.#ds(() => (this.#write(), ds().deleteByPoint(ds().index(indexId), this.#bytes(point, len)))),
      datastore_delete_by_index_scan_range_bsatn: (indexId: number, buf: ArrayBuffer, prefixLen: number, prefixElems: number, rstartLen: number, rendLen: number) =>
        this.#ds(() => (this.#write(), ds().deleteByRange(ds().index(indexId), this.#bytes(buf, buf.byteLength), prefixLen, prefixElems, rstartLen, rendLen))),
      datastore_delete_all_by_eq_bsatn: (tableId: number, relation: ArrayBuffer, len: number) =>
        this.#ds(() => (this.#write(), ds().deleteByRows(ds().table(tableId), decodeRelation(this.#bytes(relation, len), ds().table(tableId).def.name)))),
      volatile_nonatomic_schedule_immediate: (name: string, args: Uint8Array | ArrayBuffer) => {
        if (typeof name !== 'string') throw new TypeError('volatile_nonatomic_schedule_immediate: the function name must be a string');
        if (!ArrayBuffer.isView(args) && !(args instanceof ArrayBuffer)) throw new TypeError('volatile_nonatomic_schedule_immediate: the arguments must be bytes (a Uint8Array)');
        const bytes = ArrayBuffer.isView(args) ? new Uint8Array(args.buffer, args.byteOffset, args.byteLength).slice() : new Uint8Array(args.slice(0));
        try {
          this.#write(); // a side effect: not from a view
          if (!host.scheduleImmediate) throw new DatastoreError(Errno.HOST_CALL_FAILURE, 'volatile_nonatomic_schedule_immediate: this host has no scheduler');
          host.scheduleImmediate(name, bytes);
        } catch (e) {
          if (e instanceof DatastoreError) throw this.hostError(e.errno, e.message);
          throw e;
        }
      },
      console_log: (level: number, message: string) => host.log(level, String(message)),
      console_timer_start: (name: string) => {
        const id = this.#nextTimer++;
        this.#timers.set(id, { name: String(name), start: performance.now() });
        return id;
      },
      console_timer_end: (spanId: number) => {
        const t = this.#timers.get(spanId);
        if (!t) throw this.hostError(Errno.NO_SUCH_CONSOLE_TIMER);
        this.#timers.delete(spanId);
        host.log(2, `Timing span "${t.name}": ${(performance.now() - t.start).toFixed(3)}ms`);
      },
      identity: () => host.databaseIdentity,
      get_jwt_payload: (connectionId: bigint) => {
        if (!host.datastore.inTransaction) throw this.hostError(Errno.NOT_IN_TRANSACTION);
        return new TextEncoder().encode(host.jwtPayload(connectionId));
      },
      procedure_http_request: (request: Uint8Array, body: Uint8Array | string) => {
        if (host.datastore.inTransaction) throw this.hostError(Errno.WOULD_BLOCK_TRANSACTION, 'HTTP requests are not allowed while a transaction is open: call ctx.http.fetch outside ctx.withTx');
        try {
          return host.httpRequest(request, body);
        } catch (e) {
          if (e instanceof DatastoreError) throw this.hostError(e.errno, e.message);
          throw this.hostError(Errno.HTTP_ERROR, e instanceof Error ? e.message : String(e));
        }
      },
      procedure_start_mut_tx: () => {
        if (host.datastore.inTransaction) throw this.hostError(Errno.WOULD_BLOCK_TRANSACTION, 'a transaction is already open');
        return host.startAnonTx();
      },
      procedure_commit_mut_tx: () => {
        if (!host.anonTxOpen) throw this.hostError(Errno.TRANSACTION_NOT_ANONYMOUS);
        host.commitAnonTx();
      },
      procedure_abort_mut_tx: () => {
        if (!host.anonTxOpen) throw this.hostError(Errno.TRANSACTION_NOT_ANONYMOUS);
        host.abortAnonTx();
      },
    };
  }

  #advance(iterId: number, buffer: ArrayBuffer): number {
    const it = this.#iter(iterId);
    if (!it) throw this.hostError(Errno.NO_SUCH_ITER);
    // The runtime passes the same buffer until it grows it (into a new one): keep its view.
    if (buffer !== this.#iterBuffer) {
      this.#iterBuffer = buffer;
      this.#iterView = new Uint8Array(buffer);
    }
    const out = this.#iterView!;
    // As many whole rows as the buffer holds, copied at once.
    const { bytes, ends } = it.rows;
    const first = it.pos;
    const start = first === 0 ? 0 : ends[first - 1]!;
    let next = first;
    while (next < ends.length && ends[next]! - start <= out.length) next++;
    if (next === first && next < ends.length) throw { __buffer_too_small__: ends[next]! - start };
    const n = next === first ? 0 : ends[next - 1]! - start;
    // Short runs by loop: a subarray for `set` costs more than copying a few bytes.
    if (n > 64) out.set(bytes.subarray(start, start + n));
    else for (let i = 0; i < n; i++) out[i] = bytes[start + i]!;
    it.pos = next;
    if (next < ends.length) return n;
    this.#closeIter(iterId);
    return n === 0 ? 0 : -n;
  }
}

/** Writes generated auto-increment values back at offset 0 of the caller's buffer. */
function writeBack(buf: ArrayBuffer, generated: Uint8Array | undefined): number {
  if (!generated) return 0;
  new Uint8Array(buf, 0, generated.length).set(generated);
  return generated.length;
}

/** The rows of a `[u32 count][row]…` relation. Splitting several rows would need the table's
 * row decoder; the runtime only ever sends one, so one is all this accepts. */
function decodeRelation(bytes: Uint8Array, table: string): Uint8Array[] {
  if (bytes.length < 4) throw new DatastoreError(Errno.BSATN_DECODE_ERROR, `relation for ${table} is shorter than its count`);
  const count = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  if (count === 1) return [bytes.slice(4)];
  // The runtime only ever sends one row; several rows would need the row type to split them.
  throw new DatastoreError(Errno.BSATN_DECODE_ERROR, `relation for ${table} has ${count} rows; only single-row deletes are supported`);
}
