// The transactional store: one in-memory SQLite database per Lightcone database, one SQLite table
// per module table holding each row once, as its columns (order-preserving where the type has an
// order; `columns.ts`), from which a row's BSATN is rebuilt byte for byte (`row-bytes.ts`). It implements the
// row operations the syscalls need (insert with auto-increment, update by primary key, point and
// range scans, deletes) with SpacetimeDB's semantics, and turns every commit into a TxDelta.
import { BinaryReader } from 'spacetimedb';
import type { IndexDef, SequenceDef, TableDef } from './schema.ts';
import { bytesEqual, bytesKey } from './bytes.ts';
import { columnCodec, storedToU64, type ColumnCodec, type SqlValue } from './columns.ts';
import { columnSql, indexSql, META_TABLE, quote, ROW_ID, ROW_ID_COLUMN, rowColumnsSql, SCHEDULE_TABLE, SEQUENCE_TABLE, storedTableName, tableSql, uniqueIndexSql } from './layout.ts';
import { DatastoreError, Errno } from './datastore-error.ts';
import { FastSql, type PackedRows, type Rid, ridOf, splitRows } from './fast-stmt.ts';
import { InsertLog } from './insert-log.ts';
import { BufferGrowth, exportSqlite, ImageCopy, loadSqlite, openSqlite, type Sqlite3, type SqliteDb, type SqliteStmt } from './sqlite.ts';

/**
 * Rows a transaction inserted and deleted in one table (BSATN bytes, net of each other). Inserted
 * rows are views into buffers that several rows share: read them, copy one to keep it alone
 * (`compactBytes`), and never transfer or write to `row.buffer`.
 */
export interface TableDelta {
  table: string;
  inserts: Uint8Array[];
  deletes: Uint8Array[];
}

/** What one committed transaction changed: the one change feed for durability, subscriptions and sync. */
export interface TxDelta {
  tables: TableDelta[];
  /** Sequence positions advanced since the previous commit (not transactional, but persisted with it). */
  sequences: { table: string; column: number; next: bigint }[];
  /** Scheduled rows that ran in this transaction, with when they ran (µs), so interval rows resume their period after a restart. */
  scheduleRuns?: { table: string; id: bigint; at: bigint }[];
}

/** Runtime state of one table. */
export interface StoreTable {
  id: number;
  def: TableDef;
  sqlName: string;
  codecs: ColumnCodec[];
  /** SQLite column name of each column id whose stored values are ordered (undefined for `none` columns, which SQL cannot compare). */
  sqlCols: (string | undefined)[];
  /** Columns of the key used to find a row again (first unique constraint), or undefined: the whole row is the key. */
  keyCols: number[] | undefined;
  /**
   * The primary-key column stored as the table's rowid (an integer key: one B-tree, no key index),
   * or undefined when the table has a `_rid` column instead (see `rowidKeyFor`).
   */
  rowidKey: number | undefined;
  indexes: StoreIndex[];
  sequences: SequenceState[];
  count: number;
  stmts: TableStmts;
}

export interface StoreIndex {
  id: number;
  table: StoreTable;
  def: IndexDef;
  /** Point-scan statement, prepared lazily. */
  point?: SqliteStmt;
  /** Range statements by shape: prefix columns × 9 + start bound kind × 3 + end bound kind (see `#rangeQuery`). */
  ranges: Map<number, SqliteStmt>;
}

export interface SequenceState {
  def: SequenceDef;
  next: bigint;
  codec: ColumnCodec;
}

interface TableStmts {
  insert: SqliteStmt;
  deleteByRid: SqliteStmt;
  findByKey: SqliteStmt;
  scanAll: SqliteStmt;
  updateByRid: SqliteStmt;
  uniqueLookups: SqliteStmt[];
}

interface TxTableState {
  inserts: InsertLog;
  deletes: Map<Rid, Uint8Array>;
  countAtBegin: number;
}

/** Decoded column values of a row, reused between calls (the hot path allocates nothing else). */
interface Decoded {
  values: SqlValue[];
  offsets: number[];
  /**
   * Decoded with `rawText`: per column, where in `row` the UTF-8 bytes of a string column start
   * (its value in `values` is then null, to be bound from the bytes), else -1.
   */
  textAt: number[];
  textLen: number[];
  rawText: boolean;
  row: Uint8Array;
}

const RID = ROW_ID;
/** The column in which images written before one-copy rows kept each row's BSATN (converted when a table is attached). */
const LEGACY_ROW = '_row';
/** u64 values below this are decoded as numbers on the insert path. */
const TWO_31 = 2 ** 31;

/** Opens a datastore; `image` is a snapshot from `export()`. */
export async function openDatastore(image?: Uint8Array): Promise<Datastore> {
  const sqlite3 = await loadSqlite();
  return new Datastore(sqlite3, openSqlite(sqlite3, image));
}

/** The kinds of a range bound, numbered for range statement keys. */
const BOUND_KIND = { included: 0, excluded: 1, unbounded: 2 } as const;
const NO_COLUMNS: readonly number[] = [];

export class Datastore {
  readonly #sqlite3: Sqlite3;
  readonly #db: SqliteDb;
  readonly #tables: StoreTable[] = [];
  readonly #tablesByName = new Map<string, StoreTable>();
  readonly #indexes: StoreIndex[] = [];
  readonly #indexesByName = new Map<string, StoreIndex>();
  #tx: Map<StoreTable, TxTableState> | undefined;
  #dirtySequences = new Set<SequenceState>();
  #scheduleRuns: { table: string; id: bigint; at: bigint }[] = [];
  /** Tables the open transaction moved off a rowid key, with the key they had (restored on rollback). */
  #rekeyed: { table: StoreTable; rowidKey: number }[] = [];
  readonly #begin: SqliteStmt;
  readonly #commit: SqliteStmt;
  readonly #rollback: SqliteStmt;
  readonly #saveSeq: SqliteStmt;
  readonly #decoded: Decoded = { values: [], offsets: [], textAt: [], textLen: [], rawText: false, row: new Uint8Array(0) };
  readonly #reader = new BinaryReader(new Uint8Array(0));
  readonly #fast: FastSql;
  readonly #growth: BufferGrowth;
  /** The row the last `insertGenerated` stored (or found identical), for `insert` to return. */
  #inserted: Uint8Array | undefined;
  #view: DataView | undefined;
  #viewBuffer: ArrayBufferLike | undefined;

  /** @internal use `openDatastore`. */
  constructor(sqlite3: Sqlite3, db: SqliteDb) {
    this.#sqlite3 = sqlite3;
    this.#db = db;
    this.#fast = new FastSql(sqlite3);
    this.#growth = new BufferGrowth(sqlite3, db);
    db.exec(`CREATE TABLE IF NOT EXISTS ${SEQUENCE_TABLE} (tbl TEXT NOT NULL, col INTEGER NOT NULL, next TEXT NOT NULL, PRIMARY KEY (tbl, col))`);
    db.exec(`CREATE TABLE IF NOT EXISTS ${META_TABLE} (key TEXT PRIMARY KEY, value BLOB)`);
    db.exec(`CREATE TABLE IF NOT EXISTS ${SCHEDULE_TABLE} (tbl TEXT NOT NULL, id TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (tbl, id))`);
    this.#begin = db.prepare('BEGIN');
    this.#commit = db.prepare('COMMIT');
    this.#rollback = db.prepare('ROLLBACK');
    this.#saveSeq = db.prepare(`INSERT OR REPLACE INTO ${SEQUENCE_TABLE} (tbl, col, next) VALUES (?, ?, ?)`);
  }

  get sqlite(): { sqlite3: Sqlite3; db: SqliteDb } {
    return { sqlite3: this.#sqlite3, db: this.#db };
  }

  get tables(): readonly StoreTable[] {
    return this.#tables;
  }

  /** Creates the SQLite table and indexes for `def` if missing, and prepares its statements. Returns its id. */
  addTable(def: TableDef, typespace: { types: import('spacetimedb').AlgebraicType[] }): StoreTable {
    const id = 4096 + this.#tables.length;
    const codecs = def.columns.map((c) => columnCodec(c.type, typespace));
    const sqlCols = codecs.map((c, i) => (c.kind === 'none' ? undefined : columnSql(i)));
    for (const cols of [...def.uniques, ...def.indexes.map((i) => i.columns)]) {
      for (const c of cols) {
        if (sqlCols[c] === undefined) {
          throw new DatastoreError(Errno.HOST_CALL_FAILURE, `column ${def.name}.${def.columns[c]?.name} of type ${codecs[c]?.typeName} cannot be indexed`);
        }
      }
    }
    const sqlName = tableSql(def.name);
    const db = this.#db;
    const allCols = codecs.map((_, i) => columnSql(i));
    const legacy = this.#detachLegacy(def.name);
    const keyCols = def.primaryKey !== undefined ? [def.primaryKey] : def.uniques[0];
    const wanted = rowidKeyFor(def, codecs);
    let rowidKey = this.#storedRowidKey(def.name);
    if (rowidKey === null) {
      rowidKey = wanted;
      db.exec(createTableSql(sqlName, allCols, rowidKey));
    } else if (rowidKey !== undefined && rowidKey !== wanted) {
      // A table stored with a rowid key the module no longer declares (its primary key was removed).
      this.#dropRowidKey(sqlName, def.name, allCols);
      rowidKey = undefined;
    }
    const where = (cols: number[]) => cols.map((c) => `${allCols[c]} = ?`).join(' AND ') || '1';
    const select = `SELECT ${[RID, ...allCols].join(', ')} FROM ${sqlName}`;
    const stmts: TableStmts = {
      insert: db.prepare(allCols.length ? `INSERT INTO ${sqlName} (${allCols.join(', ')}) VALUES (${allCols.map(() => '?').join(', ')})` : `INSERT INTO ${sqlName} DEFAULT VALUES`),
      deleteByRid: db.prepare(`DELETE FROM ${sqlName} WHERE ${RID} = ?`),
      findByKey: db.prepare(`${select} WHERE ${where(keyCols ?? codecs.map((_, i) => i))}`),
      scanAll: db.prepare(select),
      // Assigning the rowid too would override a rowid key's new value: only when there are no columns.
      updateByRid: db.prepare(`UPDATE ${sqlName} SET ${allCols.length ? allCols.map((c) => `${c} = ?`).join(', ') : `${RID} = ${RID}`} WHERE ${RID} = ?`),
      uniqueLookups: def.uniques.map((u) => db.prepare(`${select} WHERE ${where(u)}`)),
    };
    const table: StoreTable = {
      id,
      def,
      sqlName,
      codecs,
      sqlCols,
      keyCols,
      rowidKey,
      indexes: [],
      sequences: [],
      count: Number(db.selectValue(`SELECT count(*) FROM ${sqlName}`) ?? 0),
      stmts,
    };
    for (const s of def.sequences) {
      const saved = db.selectValue(`SELECT next FROM ${SEQUENCE_TABLE} WHERE tbl = ? AND col = ?`, [def.name, s.column]);
      table.sequences.push({ def: s, next: typeof saved === 'string' ? BigInt(saved) : s.start, codec: codecs[s.column]! });
    }
    this.#createIndexes(table);
    for (const ixDef of def.indexes) {
      const ix: StoreIndex = { id: 4096 + this.#indexes.length, table, def: ixDef, ranges: new Map() };
      this.#indexes.push(ix);
      table.indexes.push(ix);
      this.#indexesByName.set(ixDef.sourceName, ix);
    }
    this.#tables.push(table);
    this.#tablesByName.set(def.name, table);
    if (def.canonicalName !== def.name) this.#tablesByName.set(def.canonicalName, table);
    if (legacy) this.#copyLegacy(table, legacy);
    return table;
  }

  /**
   * The rowid key of the stored table of `name`: its column index, undefined when it has a
   * `_rid` column, null when there is no such table.
   */
  #storedRowidKey(name: string): number | undefined | null {
    const cols = this.#db.selectArrays('SELECT name, pk, type FROM pragma_table_info(?)', [storedTableName(name)]) as [string, number, string][];
    if (cols.length === 0) return null;
    const key = cols.find(([n, pk, type]) => pk === 1 && type.toUpperCase() === 'INTEGER' && n !== ROW_ID_COLUMN);
    return key ? Number(key[0].slice(1)) : undefined;
  }

  /** Creates the indexes of `table` that are missing (the key index only when the key is not the rowid). */
  #createIndexes(table: StoreTable): void {
    const { def, sqlName, sqlCols } = table;
    const db = this.#db;
    def.uniques.forEach((u, i) => {
      if (u.length === 1 && u[0] === table.rowidKey) return; // the rowid is unique already
      db.exec(`CREATE UNIQUE INDEX IF NOT EXISTS ${uniqueIndexSql(def.name, i)} ON ${sqlName} (${u.map((c) => sqlCols[c]).join(', ')})`);
    });
    // A table without a unique constraint is a set: the whole row is its key.
    if (!table.keyCols && table.codecs.length > 0) {
      db.exec(`CREATE UNIQUE INDEX IF NOT EXISTS ${uniqueIndexSql(def.name, 'row')} ON ${sqlName} (${table.codecs.map((_, i) => columnSql(i)).join(', ')})`);
    }
    for (const ix of def.indexes) {
      if (ix.unique) continue; // the unique index above serves it
      db.exec(`CREATE INDEX IF NOT EXISTS ${indexSql(ix.sourceName)} ON ${sqlName} (${ix.columns.map((c) => sqlCols[c]).join(', ')})`);
    }
  }

  /**
   * Rebuilds a table stored with a rowid key as one with a `_rid` column, keeping every row's
   * rowid (so rowids the open transaction recorded stay valid). Drops its indexes: the caller
   * creates them again.
   */
  #dropRowidKey(sqlName: string, name: string, allCols: string[]): void {
    const db = this.#db;
    const aside = quote(`${storedTableName(name)}:rekey`);
    // All or nothing, inside a transaction or not.
    db.exec('SAVEPOINT rekey');
    try {
      db.exec(`ALTER TABLE ${sqlName} RENAME TO ${aside}`);
      db.exec(createTableSql(sqlName, allCols, undefined));
      db.exec(`INSERT INTO ${sqlName} (${[ROW_ID_COLUMN, ...allCols].join(', ')}) SELECT ${[RID, ...allCols].join(', ')} FROM ${aside}`);
      db.exec(`DROP TABLE ${aside}`);
      db.exec('RELEASE rekey');
    } catch (e) {
      db.exec('ROLLBACK TO rekey');
      db.exec('RELEASE rekey');
      throw e;
    }
  }

  /**
   * Makes room for a row whose key the rowid cannot hold (a u64 from 2^63 up, stored as a BLOB):
   * the table moves to a `_rid` column, inside the open transaction (undone by its rollback).
   */
  #fitKey(table: StoreTable, d: Decoded): void {
    const k = table.rowidKey;
    if (k === undefined || !(d.values[k] instanceof Uint8Array)) return;
    const cols = table.codecs.map((_, i) => columnSql(i));
    this.#dropRowidKey(table.sqlName, table.def.name, cols);
    this.#rekeyed.push({ table, rowidKey: k });
    table.rowidKey = undefined;
    this.#createIndexes(table);
  }

  /**
   * An image written before rows were kept once holds the table with its rows' BSATN in a `_row`
   * column: moves that table aside (dropping its indexes) so the current layout can be created,
   * and returns its new name; undefined when the table is absent or current.
   */
  #detachLegacy(name: string): string | undefined {
    const db = this.#db;
    const stored = storedTableName(name);
    const cols = db.selectValues('SELECT name FROM pragma_table_info(?)', [stored]) as string[];
    if (!cols.includes(LEGACY_ROW)) return undefined;
    const indexes = db.selectValues(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`, [stored]) as string[];
    for (const ix of indexes) db.exec(`DROP INDEX ${quote(ix)}`);
    const aside = `${stored}:legacy`;
    db.exec(`DROP TABLE IF EXISTS ${quote(aside)}`);
    db.exec(`ALTER TABLE ${quote(stored)} RENAME TO ${quote(aside)}`);
    return aside;
  }

  /** Moves the rows of a detached legacy table into `table` (their BSATN is the same), then drops it. */
  #copyLegacy(table: StoreTable, aside: string): void {
    const db = this.#db;
    const rows = db.selectValues(`SELECT ${LEGACY_ROW} FROM ${quote(aside)} ORDER BY ${RID}`) as Uint8Array[];
    this.#begin.step();
    this.#begin.reset();
    try {
      for (const row of rows) {
        const d = this.#decode(table, row);
        this.#fitKey(table, d);
        this.#fast.run(table.stmts.insert, d.values, table.codecs.length);
      }
      db.exec(`DROP TABLE ${quote(aside)}`);
      this.#commit.step();
      this.#commit.reset();
    } catch (e) {
      this.#rollback.step();
      this.#rollback.reset();
      if (this.#rekeyed.length) table.rowidKey = this.#rekeyed[0]!.rowidKey;
      throw e;
    } finally {
      this.#rekeyed = [];
    }
    table.count = rows.length;
  }

  /** The BSATN of the row in result columns `first`, `first + 1`, … of stepped statement `stmt` (selected with `rowColumnsSql`). */
  readRow(stmt: SqliteStmt, first: number, table: StoreTable): Uint8Array {
    return this.#fast.reader.read(stmt.pointer as unknown as number, first, table);
  }

  /** Drops the stored table of `name` if it exists (for scratch tables such as views'). Only before `addTable`. */
  dropStoredTable(name: string): void {
    this.#db.exec(`DROP TABLE IF EXISTS ${tableSql(name)}`);
  }

  /** Looks a table up by source or canonical name. */
  tableByName(name: string): StoreTable | undefined {
    return this.#tablesByName.get(name);
  }
  table(id: number): StoreTable {
    const t = this.#tables[id - 4096];
    if (!t) throw new DatastoreError(Errno.NO_SUCH_TABLE, `table id ${id}`);
    return t;
  }
  indexByName(name: string): StoreIndex | undefined {
    return this.#indexesByName.get(name);
  }
  index(id: number): StoreIndex {
    const ix = this.#indexes[id - 4096];
    if (!ix) throw new DatastoreError(Errno.NO_SUCH_INDEX, `index id ${id}`);
    return ix;
  }

  // ---- transactions ------------------------------------------------------------------------

  get inTransaction(): boolean {
    return this.#tx !== undefined;
  }

  begin(): void {
    if (this.#tx) throw new DatastoreError(Errno.WOULD_BLOCK_TRANSACTION, 'a transaction is already open');
    this.#fast.run(this.#begin, NO_VALUES);
    this.#tx = new Map();
  }

  /** Commits and returns the transaction's delta (event-table rows appear as inserts and are not kept). */
  commit(): TxDelta {
    const tx = this.#requireTx();
    const tables: TableDelta[] = [];
    for (const [table, st] of tx) {
      if (table.def.isEvent && st.inserts.size > 0) {
        this.#db.exec(`DELETE FROM ${table.sqlName}`);
        table.count = 0;
        tables.push({ table: table.def.name, inserts: st.inserts.rows(), deletes: [] });
        continue;
      }
      const d = netDelta(st);
      if (d.inserts.length || d.deletes.length) tables.push({ table: table.def.name, ...d });
    }
    const sequences: TxDelta['sequences'] = [];
    for (const s of this.#dirtySequences) {
      const table = this.#tables.find((t) => t.sequences.includes(s))!;
      this.#fast.run(this.#saveSeq, [table.def.name, s.def.column, s.next.toString()]);
      sequences.push({ table: table.def.name, column: s.def.column, next: s.next });
    }
    this.#dirtySequences.clear();
    const scheduleRuns = this.#scheduleRuns;
    this.#scheduleRuns = [];
    for (const r of scheduleRuns) this.#saveScheduleRun(r);
    this.#growth.commit(() => this.#fast.run(this.#commit, NO_VALUES));
    this.#tx = undefined;
    this.#rekeyed = [];
    return scheduleRuns.length ? { tables, sequences, scheduleRuns } : { tables, sequences };
  }

  /** Rolls back everything since `begin` (sequence values stay consumed, as in SpacetimeDB). */
  rollback(): void {
    const tx = this.#tx;
    if (!tx) return;
    this.#tx = undefined;
    for (const [table, st] of tx) table.count = st.countAtBegin;
    // The rollback puts a re-keyed table back as it was stored.
    for (const { table, rowidKey } of this.#rekeyed.reverse()) table.rowidKey = rowidKey;
    this.#rekeyed = [];
    this.#scheduleRuns = [];
    // A COMMIT that failed may have rolled the transaction back already (SQLite does so on a
    // full database): then there is nothing left to roll back, and the datastore takes new
    // transactions all the same.
    if (this.#sqlite3.capi.sqlite3_get_autocommit(this.#db.pointer!) === 0) this.#fast.run(this.#rollback, NO_VALUES);
  }

  #requireTx(): Map<StoreTable, TxTableState> {
    if (!this.#tx) throw new DatastoreError(Errno.NOT_IN_TRANSACTION);
    return this.#tx;
  }

  #txState(table: StoreTable): TxTableState {
    const tx = this.#requireTx();
    let st = tx.get(table);
    if (!st) {
      st = { inserts: new InsertLog(), deletes: new Map(), countAtBegin: table.count };
      tx.set(table, st);
    }
    return st;
  }

  // ---- decoding ----------------------------------------------------------------------------

  /** Points the shared reader at `bytes` (views into one reused buffer share one DataView). */
  #readerAt(bytes: Uint8Array): BinaryReader {
    const r = this.#reader;
    const buf = bytes.buffer;
    if (buf !== this.#viewBuffer) {
      this.#view = new DataView(buf);
      this.#viewBuffer = buf;
    }
    r.view = this.#view!;
    r.offset = bytes.byteOffset;
    return r;
  }

  /**
   * Decodes the stored column values of `row` into the shared buffer. With `rawText`, ASCII
   * strings are not decoded: the row is only inserted, and they go to SQLite as the bytes they
   * are (see `Decoded.textAt`); other strings are decoded as on every other path, so that a
   * string that is not UTF-8 is stored the same way whichever path it takes. With `rawText` a
   * u64 below 2^31 is also a number rather than a bigint (it binds as the same INTEGER). Throws
   * BSATN_DECODE_ERROR.
   */
  #decode(table: StoreTable, row: Uint8Array, rawText = false): Decoded {
    // Rows usually arrive as views into the runtime's one reused buffer.
    const r = this.#readerAt(row);
    const base = row.byteOffset;
    const end = base + row.length;
    const out = this.#decoded;
    const codecs = table.codecs;
    out.rawText = rawText;
    out.row = row;
    try {
      for (let i = 0; i < codecs.length; i++) {
        out.offsets[i] = r.offset - base;
        const codec = codecs[i]!;
        if (rawText && codec.kind === 'text' && isAscii(row, r.offset - base)) {
          const len = r.readU32();
          out.textAt[i] = r.offset - base;
          out.textLen[i] = len;
          out.values[i] = null;
          r.offset += len;
        } else if (rawText && codec.kind === 'u64' && r.offset + 8 <= end && r.view.getUint32(r.offset + 4, true) === 0 && r.view.getUint32(r.offset, true) < TWO_31) {
          // Below 2^31 a u64 is bound as the number it is: no BigInt for the common small key.
          out.textAt[i] = -1;
          out.values[i] = r.view.getUint32(r.offset, true);
          r.offset += 8;
        } else {
          out.textAt[i] = -1;
          out.values[i] = codec.read(r);
        }
        if (r.offset > end) throw new RangeError(`column ${table.def.columns[i]?.name} runs past the end of the row`);
      }
    } catch (e) {
      throw new DatastoreError(Errno.BSATN_DECODE_ERROR, `row for table ${table.def.name} is malformed (${(e as Error).message})`);
    }
    if (r.offset !== end) {
      throw new DatastoreError(Errno.BSATN_DECODE_ERROR, `row for table ${table.def.name} has ${end - r.offset} trailing byte(s)`);
    }
    return out;
  }

  /** Records, inside the open transaction, that a scheduled row ran at `at` (µs). */
  markScheduleRun(table: string, id: bigint, at: bigint): void {
    this.#requireTx();
    this.#scheduleRuns.push({ table, id, at });
  }

  /** When each scheduled row of `table` last ran (µs), by schedule id. */
  scheduleRuns(table: string): Map<bigint, bigint> {
    const out = new Map<bigint, bigint>();
    const st = this.#db.prepare(`SELECT id, at FROM ${SCHEDULE_TABLE} WHERE tbl = ?`);
    try {
      st.bind([table]);
      while (st.step()) out.set(BigInt(st.get(0) as string), BigInt(st.get(1) as string));
    } finally {
      st.finalize();
    }
    return out;
  }

  #saveScheduleRun(r: { table: string; id: bigint; at: bigint }): void {
    this.#db.exec({ sql: `INSERT OR REPLACE INTO ${SCHEDULE_TABLE} (tbl, id, at) VALUES (?, ?, ?)`, bind: [r.table, r.id.toString(), r.at.toString()] });
  }

  /** The stored (order-preserving) column values of a row, as a fresh array (`null` for unstored columns). */
  storedValues(table: StoreTable, row: Uint8Array): SqlValue[] {
    return [...this.#decode(table, row).values.slice(0, table.codecs.length)];
  }

  /** Binds a decoded row's values (the shared buffer, no copy) and runs `stmt`; `rid` is bound after them (updates). */
  #runWithRow(table: StoreTable, stmt: SqliteStmt, d: Decoded, rid?: Rid): void {
    const n = table.codecs.length;
    if (d.rawText) {
      if (rid !== undefined) throw new Error('internal: an update needs its row decoded in full');
      return this.#fast.runRow(stmt, d.values, n, d.row, d.textAt, d.textLen);
    }
    if (rid === undefined) return this.#fast.run(stmt, d.values, n);
    d.values[n] = rid;
    this.#fast.run(stmt, d.values, n + 1);
  }

  /** Decodes key bytes (BSATN of `cols` concatenated) into SQLite values. */
  decodeKey(table: StoreTable, cols: readonly number[], bytes: Uint8Array, what: string): SqlValue[] {
    // The shared reader sees the whole buffer: a value running past `bytes` is caught by its end.
    const r = this.#readerAt(bytes);
    const end = bytes.byteOffset + bytes.length;
    const out: SqlValue[] = [];
    try {
      for (const c of cols) {
        out.push(table.codecs[c]!.read(r));
        if (r.offset > end) throw new RangeError('the value runs past its end');
      }
    } catch (e) {
      throw new DatastoreError(Errno.BSATN_DECODE_ERROR, `${what} is malformed (${(e as Error).message})`);
    }
    if (r.offset !== end) throw new DatastoreError(Errno.BSATN_DECODE_ERROR, `${what} has ${end - r.offset} trailing byte(s)`);
    return out;
  }

  // ---- writes ------------------------------------------------------------------------------

  /**
   * Inserts a row. Zero values in auto-increment columns are replaced by the next sequence value;
   * returns the stored row and the BSATN of the generated columns (for the runtime's write-back).
   * An identical existing row makes this a no-op (set semantics). `input` may be a view into a
   * reused buffer: the datastore copies what it keeps.
   */
  insert(table: StoreTable, input: Uint8Array): { row: Uint8Array; generated: Uint8Array | undefined } {
    const generated = this.insertGenerated(table, input);
    const row = this.#inserted!;
    this.#inserted = undefined;
    return { row: row === input ? input.slice() : row, generated };
  }

  /**
   * As `insert`, returning only the BSATN of the generated columns (undefined when none): the
   * path of a module's inserts, which make no copy of the row beyond the transaction's own.
   */
  insertGenerated(table: StoreTable, input: Uint8Array): Uint8Array | undefined {
    const st = this.#txState(table);
    let { row, d, generated } = this.#prepare(table, input, true);
    this.#inserted = row;
    // A table without columns holds at most its one empty row (there is nothing to index).
    if (table.codecs.length === 0 && table.count > 0) return generated;
    const stmt = table.stmts.insert;
    this.#fitKey(table, d);
    try {
      this.#runWithRow(table, stmt, d);
    } catch (e) {
      if (isUniqueViolation(e)) {
        d = this.#decode(table, row); // the keys, strings included
        if (this.#identicalExists(table, d, row)) return generated;
        throw this.#uniqueError(table, d);
      }
      throw e;
    }
    // A rowid key is the rowid itself: no need to ask SQLite for it.
    const k = table.rowidKey;
    const rid = k === undefined ? this.#fast.lastRowid(stmt) : ridOf(d.values[k] as number | bigint);
    // The log copies the row (`input` may be a view into the caller's reused buffer).
    st.inserts.add(rid, row);
    table.count++;
    return generated;
  }

  /** Replaces the row whose primary key (via `index`) equals `input`'s. Throws NO_SUCH_ROW / INDEX_NOT_UNIQUE. */
  update(table: StoreTable, index: StoreIndex, input: Uint8Array): { row: Uint8Array; generated: Uint8Array | undefined } {
    const st = this.#txState(table);
    if (!index.def.unique) throw new DatastoreError(Errno.INDEX_NOT_UNIQUE, `index ${index.def.sourceName} is not unique`);
    let { row, d, generated } = this.#prepare(table, input);
    const u = table.def.uniques.findIndex((cols) => cols.length === index.def.columns.length && cols.every((c) => index.def.columns.includes(c)));
    if (u < 0) throw new DatastoreError(Errno.INDEX_NOT_UNIQUE, `index ${index.def.sourceName} is not unique`);
    const cols = table.def.uniques[u]!;
    const key = cols.map((c) => d.values[c]!);
    const old = this.#first(table, table.stmts.uniqueLookups[u]!, key);
    if (!old) {
      throw new DatastoreError(Errno.NO_SUCH_ROW, `no row in ${table.def.name} has ${describeKey(table, cols, key)}: insert it instead`);
    }
    if (row === input) row = input.slice();
    if (bytesEqual(old.row, row)) return { row, generated };
    this.#fitKey(table, d);
    try {
      this.#runWithRow(table, table.stmts.updateByRid, d, old.rid);
    } catch (e) {
      if (isUniqueViolation(e)) throw this.#uniqueError(table, d, old.rid);
      throw e;
    }
    // Through another unique index an update may change the primary key: with a rowid key, the
    // row's rowid changes with it, and the bookkeeping follows it there.
    const k = table.rowidKey;
    const rid = k === undefined ? old.rid : ridOf(d.values[k] as number | bigint);
    if (!st.inserts.delete(old.rid) && !st.deletes.has(old.rid)) st.deletes.set(old.rid, old.row);
    st.inserts.add(rid, row);
    return { row, generated };
  }

  /** Deletes rows by rid (from a scan) and records them in the delta. */
  #deleteRows(table: StoreTable, rows: { rid: Rid; row: Uint8Array }[]): number {
    const st = this.#txState(table);
    const stmt = table.stmts.deleteByRid;
    for (const { rid, row } of rows) {
      this.#fast.run(stmt, [rid]);
      if (!st.inserts.delete(rid) && !st.deletes.has(rid)) st.deletes.set(rid, row);
    }
    table.count -= rows.length;
    return rows.length;
  }

  /** Deletes each row equal (byte for byte) to one in `rows`. Returns how many were deleted. */
  deleteByRows(table: StoreTable, rows: Uint8Array[]): number {
    this.#requireTx();
    let n = 0;
    for (const row of rows) {
      const d = this.#decode(table, row);
      const key = table.keyCols ? table.keyCols.map((c) => d.values[c]!) : d.values.slice(0, table.codecs.length);
      const found = this.#first(table, table.stmts.findByKey, key);
      if (found && bytesEqual(found.row, row)) n += this.#deleteRows(table, [found]);
    }
    return n;
  }

  /** Deletes every row of the table. */
  clear(table: StoreTable): number {
    return this.#deleteRows(table, this.#all(table, table.stmts.scanAll, [], true));
  }

  /** Deletes the rows an index point selects. */
  deleteByPoint(index: StoreIndex, key: Uint8Array): number {
    this.#requireTx();
    return this.#deleteRows(index.table, this.#selectPoint(index, key, true));
  }

  /** Deletes the rows an index range selects (same buffer layout as `scanRange`). */
  deleteByRange(index: StoreIndex, buf: Uint8Array, prefixLen: number, prefixElems: number, rstartLen: number, rendLen: number): number {
    this.#requireTx();
    const { stmt, values } = this.#rangeQuery(index, buf, prefixLen, prefixElems, rstartLen, rendLen);
    return this.#deleteRows(index.table, this.#all(index.table, stmt, values, true));
  }

  // ---- reads -------------------------------------------------------------------------------

  count(table: StoreTable): number {
    return table.count;
  }

  scanAll(table: StoreTable): Uint8Array[] {
    return this.#all(table, table.stmts.scanAll, [], false).map((r) => r.row);
  }

  scanPoint(index: StoreIndex, key: Uint8Array): Uint8Array[] {
    return this.#split(this.scanPointPacked(index, key));
  }

  scanRange(index: StoreIndex, buf: Uint8Array, prefixLen: number, prefixElems: number, rstartLen: number, rendLen: number): Uint8Array[] {
    return this.#split(this.scanRangePacked(index, buf, prefixLen, prefixElems, rstartLen, rendLen));
  }

  #split(packed: PackedRows): Uint8Array[] {
    const rows = splitRows(packed);
    this.releaseRows(packed);
    return rows;
  }

  /**
   * Says that packed rows from a `scan…Packed` are no longer read. Until then their bytes may be a
   * view of the datastore's read buffer, which the next read replaces with a copy; calling this
   * when done spares that copy.
   */
  releaseRows(rows: PackedRows): void {
    this.#fast.release(rows);
  }

  /** As `scanAll`, the rows one after another in one array (what a module's iterator reads). */
  scanAllPacked(table: StoreTable): PackedRows {
    return this.#fast.packedRows(table.stmts.scanAll, NO_VALUES, table);
  }

  /** As `scanPoint`, the rows one after another in one array. */
  scanPointPacked(index: StoreIndex, key: Uint8Array): PackedRows {
    const { stmt, values, limit } = this.#pointQuery(index, key);
    return this.#fast.packedRows(stmt, values, index.table, limit);
  }

  /** As `scanRange`, the rows one after another in one array. */
  scanRangePacked(index: StoreIndex, buf: Uint8Array, prefixLen: number, prefixElems: number, rstartLen: number, rendLen: number): PackedRows {
    const { stmt, values } = this.#rangeQuery(index, buf, prefixLen, prefixElems, rstartLen, rendLen);
    return this.#fast.packedRows(stmt, values, index.table);
  }

  #selectPoint(index: StoreIndex, key: Uint8Array, withRid: boolean): { rid: Rid; row: Uint8Array }[] {
    const { stmt, values, limit } = this.#pointQuery(index, key);
    return this.#fast.rows(stmt, values, withRid, index.table, limit);
  }

  /** The statement, bound values and row limit of a point scan. */
  #pointQuery(index: StoreIndex, key: Uint8Array): { stmt: SqliteStmt; values: SqlValue[]; limit: number } {
    const table = index.table;
    const values = this.decodeKey(table, index.def.columns, key, `point for index ${index.def.sourceName}`);
    index.point ??= this.#db.prepare(`SELECT ${RID}, ${rowColumnsSql(table)} FROM ${table.sqlName} WHERE ${index.def.columns.map((c) => `${table.sqlCols[c]} = ?`).join(' AND ')}`);
    // A unique index holds at most one row per key: stop at it rather than step on for none.
    return { stmt: index.point, values, limit: index.def.unique ? 1 : Infinity };
  }

  /** The statement and bound values of a range scan (SpacetimeDB's prefix + range bounds layout). */
  #rangeQuery(index: StoreIndex, buf: Uint8Array, prefixLen: number, prefixElems: number, rstartLen: number, rendLen: number): { stmt: SqliteStmt; values: SqlValue[] } {
    const def = index.def;
    const table = index.table;
    if (def.algorithm === 'hash') throw new DatastoreError(Errno.WRONG_INDEX_ALGO, `index ${def.sourceName} is a hash index`);
    if (prefixElems >= def.columns.length) {
      throw new DatastoreError(Errno.BSATN_DECODE_ERROR, `range scan on ${def.sourceName} has ${prefixElems} prefix columns but the index has ${def.columns.length}`);
    }
    if (prefixLen + rstartLen + rendLen > buf.length) throw new RangeError('length argument was out of bounds for ArrayBuffer');
    const prefixCols = prefixElems > 0 ? def.columns.slice(0, prefixElems) : NO_COLUMNS;
    const rangeCol = def.columns[prefixElems]!;
    const values: SqlValue[] = prefixElems > 0 ? this.decodeKey(table, prefixCols, buf.subarray(0, prefixLen), `range prefix for index ${def.sourceName}`) : [];
    const start = this.#decodeBound(table, rangeCol, buf.subarray(prefixLen, prefixLen + rstartLen), def.sourceName);
    const end = rendLen === 0 ? start : this.#decodeBound(table, rangeCol, buf.subarray(prefixLen + rstartLen, prefixLen + rstartLen + rendLen), def.sourceName);
    const shape = prefixElems * 9 + BOUND_KIND[start.op] * 3 + BOUND_KIND[end.op];
    let stmt = index.ranges.get(shape);
    if (!stmt) {
      const conds = prefixCols.map((c) => `${table.sqlCols[c]} = ?`);
      const rc = table.sqlCols[rangeCol]!;
      if (start.op !== 'unbounded') conds.push(`${rc} ${start.op === 'included' ? '>=' : '>'} ?`);
      if (end.op !== 'unbounded') conds.push(`${rc} ${end.op === 'included' ? '<=' : '<'} ?`);
      stmt = this.#db.prepare(
        `SELECT ${RID}, ${rowColumnsSql(table)} FROM ${table.sqlName}${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''} ORDER BY ${def.columns.map((c) => table.sqlCols[c]).join(', ')}`,
      );
      index.ranges.set(shape, stmt);
    }
    if (start.op !== 'unbounded') values.push(start.value);
    if (end.op !== 'unbounded') values.push(end.value);
    return { stmt, values };
  }

  #decodeBound(table: StoreTable, col: number, bytes: Uint8Array, ixName: string): { op: 'included' | 'excluded' | 'unbounded'; value: SqlValue } {
    const tag = bytes[0];
    if (tag === 2 && bytes.length === 1) return { op: 'unbounded', value: null };
    if (tag !== 0 && tag !== 1) throw new DatastoreError(Errno.BSATN_DECODE_ERROR, `range bound for index ${ixName} has tag ${tag ?? 'none'}`);
    const [value] = this.decodeKey(table, [col], bytes.subarray(1), `range bound for index ${ixName}`);
    return { op: tag === 0 ? 'included' : 'excluded', value: value ?? null };
  }

  // ---- helpers -----------------------------------------------------------------------------

  /** Decodes a row and fills its auto-increment placeholders (a copy when it changes). */
  #prepare(table: StoreTable, input: Uint8Array, rawText = false): { row: Uint8Array; d: Decoded; generated: Uint8Array | undefined } {
    const d = this.#decode(table, input, rawText);
    const res = table.sequences.length > 0 ? this.#applySequences(table, input, d) : undefined;
    if (!res) return { row: input, d, generated: undefined };
    return { row: res.row, d: this.#decode(table, res.row, rawText), generated: res.generated };
  }

  #applySequences(table: StoreTable, row: Uint8Array, d: Decoded): { row: Uint8Array; generated: Uint8Array } | undefined {
    let out: Uint8Array | undefined;
    const parts: Uint8Array[] = [];
    for (const s of table.sequences) {
      const col = s.def.column;
      if (!isZero(d.values[col]!, s.codec)) continue;
      const value = s.next;
      if (value > s.def.max || value < s.def.min) {
        throw new DatastoreError(Errno.AUTO_INC_OVERFLOW, `the sequence of ${table.def.name}.${table.def.columns[col]?.name} is exhausted at ${value}`);
      }
      s.next = value + s.def.increment;
      this.#dirtySequences.add(s);
      out ??= row.slice();
      const le = intToLe(value, s.codec.width);
      out.set(le, d.offsets[col]!);
      parts.push(le);
    }
    if (!out) return undefined;
    const generated = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      generated.set(p, o);
      o += p.length;
    }
    return { row: out, generated };
  }

  #identicalExists(table: StoreTable, d: Decoded, row: Uint8Array): boolean {
    if (!table.keyCols) return true; // the only unique index is on the whole row
    const found = this.#first(
      table,
      table.stmts.findByKey,
      table.keyCols.map((c) => d.values[c]!),
    );
    return found !== undefined && bytesEqual(found.row, row);
  }

  #uniqueError(table: StoreTable, d: Decoded, exceptRid?: Rid): DatastoreError {
    for (let i = 0; i < table.def.uniques.length; i++) {
      const cols = table.def.uniques[i]!;
      const key = cols.map((c) => d.values[c]!);
      const found = this.#first(table, table.stmts.uniqueLookups[i]!, key);
      if (found && found.rid !== exceptRid) {
        return new DatastoreError(
          Errno.UNIQUE_ALREADY_EXISTS,
          `${describeKey(table, cols, key)} is already taken in ${table.def.name}: use update, or${table.sequences.length ? ' omit the value (0) to auto-increment, or' : ''} pick another value`,
        );
      }
    }
    return new DatastoreError(Errno.UNIQUE_ALREADY_EXISTS, `in table ${table.def.name}`);
  }

  #first(table: StoreTable, stmt: SqliteStmt, bind: SqlValue[]): { rid: Rid; row: Uint8Array } | undefined {
    return this.#fast.rows(stmt, bind, true, table, 1)[0];
  }

  /** Runs a `SELECT rowid, <rowColumnsSql> …` and collects all rows (a snapshot, as SpacetimeDB's iterators are). */
  #all(table: StoreTable, stmt: SqliteStmt, bind: SqlValue[], withRid: boolean): { rid: Rid; row: Uint8Array }[] {
    return this.#fast.rows(stmt, bind, withRid, table);
  }

  // ---- recovery ----------------------------------------------------------------------------

  /** Re-applies a committed delta (log replay). Runs its own transaction. */
  applyDelta(delta: TxDelta): void {
    this.begin();
    try {
      for (const td of delta.tables) {
        const table = this.tableByName(td.table);
        if (!table) throw new DatastoreError(Errno.NO_SUCH_TABLE, `log names table ${td.table}, which the module does not define`);
        if (table.def.isEvent) continue;
        this.deleteByRows(table, td.deletes);
        for (const row of td.inserts) {
          const d = this.#decode(table, row, true);
          this.#fitKey(table, d);
          this.#runWithRow(table, table.stmts.insert, d);
          table.count++;
        }
      }
      for (const r of delta.scheduleRuns ?? []) this.#scheduleRuns.push(r);
      for (const s of delta.sequences) {
        const seq = this.tableByName(s.table)?.sequences.find((x) => x.def.column === s.column);
        if (seq && s.next > seq.next) {
          seq.next = s.next;
          this.#dirtySequences.add(seq);
        }
      }
      this.#tx = new Map(); // replayed rows are not a new delta
      this.commit();
    } catch (e) {
      this.rollback();
      throw e;
    }
  }

  /**
   * Applies row changes made elsewhere (a sync replica's server rows and rebases) inside the open
   * transaction, recording them in its delta: every table's deletes first, then the inserts, so a
   * row that moves between keys never meets itself. A sequence moves past the values of rows it
   * receives, so rows made here later do not take ids the rows from elsewhere hold.
   */
  applyRows(delta: TxDelta, strict = false): void {
    this.#requireTx();
    const tables = delta.tables.map((td) => {
      const table = this.tableByName(td.table);
      if (!table) throw new DatastoreError(Errno.NO_SUCH_TABLE, `rows for table ${td.table}, which the module does not define`);
      return { table, td };
    });
    for (const { table, td } of tables) {
      if (table.def.isEvent) continue;
      const n = this.deleteByRows(table, td.deletes);
      if (strict && n !== td.deletes.length) {
        throw new DatastoreError(
          Errno.NO_SUCH_ROW,
          `${td.deletes.length - n} of the rows to delete from ${table.def.name} are not there: this copy no longer matches the one the changes were made on`,
        );
      }
    }
    for (const { table, td } of tables) {
      if (table.def.isEvent) continue;
      for (const row of td.inserts) {
        this.insertGenerated(table, row);
        if (table.sequences.length === 0) continue;
        // The insert decoded this row last (unless something else was decoded since): its column
        // offsets are the row's, so it is not decoded a second time.
        const d = this.#decoded.row === row ? this.#decoded : this.#decode(table, row);
        for (const seq of table.sequences) {
          // The column's value as the integer the sequence counts in (read from the row's bytes:
          // the stored form of some widths is transformed, e.g. a u64 from 2^63 up is a BLOB).
          const n = leInt(row, d.offsets[seq.def.column]!, seq.codec.width, seq.codec.signed);
          if (n >= seq.next) {
            seq.next = n + 1n;
            this.#dirtySequences.add(seq);
          }
        }
      }
    }
  }

  /** Where every sequence stands (to put them back after runs that must not consume ids). */
  sequencePositions(): Map<SequenceState, bigint> {
    const out = new Map<SequenceState, bigint>();
    for (const t of this.#tables) for (const s of t.sequences) out.set(s, s.next);
    return out;
  }

  /** Puts sequences back where `sequencePositions` found them. */
  restoreSequencePositions(positions: ReadonlyMap<SequenceState, bigint>): void {
    for (const [s, next] of positions) s.next = next;
  }

  /** A consistent image of the whole database (for snapshots). Only between transactions. */
  export(): Uint8Array {
    if (this.#tx) throw new Error('cannot export while a transaction is open');
    return exportSqlite(this.#sqlite3, this.#db);
  }

  /**
   * Starts a copy of the database for a snapshot, taken a few pages at a time between
   * transactions (`ImageCopy.step`); transactions committed meanwhile are mirrored into it.
   */
  copy(): ImageCopy {
    if (this.#tx) throw new Error('cannot copy while a transaction is open');
    return new ImageCopy(this.#sqlite3, this.#db);
  }

  /** Host metadata kept inside the image (so snapshots carry it). */
  getMeta(key: string): Uint8Array | undefined {
    const v = this.#db.selectValue(`SELECT value FROM ${META_TABLE} WHERE key = ?`, [key]);
    return v instanceof Uint8Array ? v : undefined;
  }
  setMeta(key: string, value: Uint8Array): void {
    this.#db.exec({ sql: `INSERT OR REPLACE INTO ${META_TABLE} (key, value) VALUES (?, ?)`, bind: [key, value] });
  }

  close(): void {
    this.#growth.close();
    this.#db.close();
  }
}

/** Sets host metadata (see `Datastore.setMeta`) in a completed copy, not in its source. */
export function setCopyMeta(copy: ImageCopy, key: string, value: Uint8Array): void {
  copy.exec(`INSERT OR REPLACE INTO ${META_TABLE} (key, value) VALUES (?, ?)`, [key, value]);
}

// ---- small helpers ---------------------------------------------------------------------------

/**
 * The column a new table of `def` keeps as its rowid: a one-column primary key of an integer type
 * whose stored values are SQLite integers (u8–u32, i8–i64, bool, Timestamp, TimeDuration, and u64,
 * whose values from 2^63 up move the table to a `_rid` column when the first one arrives).
 */
function rowidKeyFor(def: TableDef, codecs: ColumnCodec[]): number | undefined {
  const k = def.primaryKey;
  if (k === undefined) return undefined;
  const kind = codecs[k]?.kind;
  return kind === 'int' || kind === 'i64' || kind === 'u64' ? k : undefined;
}

/** The CREATE TABLE of a stored table: its key column as the rowid, or a `_rid` column. */
function createTableSql(sqlName: string, allCols: string[], rowidKey: number | undefined): string {
  // Columns without a declared type have no affinity: SQLite keeps each value as it is bound. A
  // rowid key is declared INTEGER, which its values (all integers) are already.
  const cols = rowidKey === undefined ? [`${ROW_ID_COLUMN} INTEGER PRIMARY KEY`, ...allCols] : allCols.map((c, i) => (i === rowidKey ? `${c} INTEGER PRIMARY KEY` : c));
  return `CREATE TABLE IF NOT EXISTS ${sqlName} (${cols.join(', ')})`;
}

const NO_VALUES: readonly SqlValue[] = [];

function isUniqueViolation(e: unknown): boolean {
  const code = (e as { resultCode?: number }).resultCode;
  return code === 2067 /* SQLITE_CONSTRAINT_UNIQUE */ || code === 1555 /* SQLITE_CONSTRAINT_PRIMARYKEY */;
}

function isZero(v: SqlValue, codec: ColumnCodec): boolean {
  if (codec.kind === 'int') return v === 0;
  if (codec.kind === 'i64') return v === 0n;
  if (codec.kind === 'u64') return v === 0n || v === 0; // a number on the insert path (see #decode)
  if (codec.kind === 'wide' && v instanceof Uint8Array) {
    for (let i = 0; i < v.length; i++) if (v[i] !== (i === 0 && codec.signed ? 0x80 : 0)) return false;
    return true;
  }
  return false;
}

function intToLe(v: bigint, width: number): Uint8Array {
  const out = new Uint8Array(width);
  let x = BigInt.asUintN(width * 8, v);
  for (let i = 0; i < width; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

function describeKey(table: StoreTable, cols: number[], key: SqlValue[]): string {
  return cols.map((c, i) => `${table.def.columns[c]?.name} = ${formatSqlValue(key[i] ?? null, table.codecs[c]!)}`).join(', ');
}

function formatSqlValue(v: SqlValue, codec: ColumnCodec): string {
  if (codec.kind === 'u64') return String(storedToU64(v));
  if (v instanceof Uint8Array) return `0x${[...v].map((b, i) => (i === 0 && codec.signed ? b ^ 0x80 : b).toString(16).padStart(2, '0')).join('')}`;
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}

/** Removes delete+insert pairs that leave a row unchanged. */
function netDelta(st: TxTableState): { inserts: Uint8Array[]; deletes: Uint8Array[] } {
  if (st.inserts.size === 0 || st.deletes.size === 0) return { inserts: st.inserts.rows(), deletes: [...st.deletes.values()] };
  const deleted = new Map<string, Rid>();
  for (const [rid, row] of st.deletes) deleted.set(bytesKey(row), rid);
  const inserts: Uint8Array[] = [];
  const dropped = new Set<Rid>();
  for (const row of st.inserts.rows()) {
    const rid = deleted.get(bytesKey(row));
    if (rid !== undefined && !dropped.has(rid)) dropped.add(rid);
    else inserts.push(row);
  }
  const deletes: Uint8Array[] = [];
  for (const [rid, row] of st.deletes) if (!dropped.has(rid)) deletes.push(row);
  return { inserts, deletes };
}

/**
 * True when the string whose u32 length is at `row[at]` lies within `row` and is ASCII (so its
 * bytes are its UTF-8 text as any decoder would read it). False sends it to the decoder, which
 * also reports a length running past the row.
 */
function isAscii(row: Uint8Array, at: number): boolean {
  if (at + 4 > row.length) return false;
  const len = (row[at]! | (row[at + 1]! << 8) | (row[at + 2]! << 16) | (row[at + 3]! << 24)) >>> 0;
  const end = at + 4 + len;
  if (end > row.length) return false;
  for (let i = at + 4; i < end; i++) if (row[i]! > 0x7f) return false;
  return true;
}

/** The little-endian integer of `width` bytes at `at` (two's complement when `signed`). */
function leInt(row: Uint8Array, at: number, width: number, signed: boolean): bigint {
  let v = 0n;
  for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(row[at + i]!);
  if (signed && width > 0 && (row[at + width - 1]! & 0x80) !== 0) v -= 1n << BigInt(width * 8);
  return v;
}
