// The state of evaluating one committed transaction against the live queries: the delta's rows
// with their stored values decoded once per row, the index lookups joins need (SQLite holds the
// post-commit state), and the signed row counts each query plan collects before fan-out.
import { bytesKey } from '../datastore/bytes.ts';
import { rowColumnsSql } from '../datastore/layout.ts';
import type { SqlValue } from '../datastore/columns.ts';
import type { StoreTable, TxDelta } from '../datastore/datastore.ts';
import type { FastSql } from '../datastore/fast-stmt.ts';
import type { SqliteDb, SqliteStmt } from '../datastore/sqlite.ts';
import type { StoredDecoder } from './stored-values.ts';

/** The changed rows of one table: deletes (sign -1) then inserts (sign +1). */
export interface TableChanges {
  readonly table: StoreTable;
  readonly rows: readonly Uint8Array[];
  readonly signs: readonly number[];
  /** Stored values per row, decoded on first use. */
  readonly values: (SqlValue[] | undefined)[];
  /** Row keys (the bytes as a string), computed on first use. */
  readonly keys: (string | undefined)[];
}

/** One row's signed count in a plan's result change. */
export interface PendingRow {
  row: Uint8Array;
  n: number;
}

/** What a plan needs from a transaction (implemented by `Plan`). */
export interface PlanSink {
  mark: number;
  readonly pending: Map<string, PendingRow>;
}

/** Prepared point lookups on an indexed column, shared by every join over that column. */
export class Lookups {
  readonly #db: SqliteDb;
  readonly #fast: FastSql;
  readonly #stmts = new Map<string, SqliteStmt>();
  readonly #bind: SqlValue[] = [null];

  constructor(db: SqliteDb, fast: FastSql) {
    this.#db = db;
    this.#fast = fast;
  }

  /** Rows of `table` whose column `col` equals `value`, in the current (post-commit) state. */
  rows(table: StoreTable, col: number, value: SqlValue): Uint8Array[] {
    const id = `${table.sqlName}.${col}`;
    let stmt = this.#stmts.get(id);
    if (!stmt) {
      stmt = this.#db.prepare(`SELECT 0, ${rowColumnsSql(table)} FROM ${table.sqlName} WHERE ${table.sqlCols[col]!} = ?`);
      this.#stmts.set(id, stmt);
    }
    this.#bind[0] = value;
    const found = this.#fast.rows(stmt, this.#bind, false, table);
    const out = new Array<Uint8Array>(found.length);
    for (let i = 0; i < found.length; i++) out[i] = found[i]!.row;
    return out;
  }

  /** Finalizes the statements (before the database closes). */
  close(): void {
    for (const s of this.#stmts.values()) s.finalize();
    this.#stmts.clear();
  }
}

/** Evaluation state of one transaction. */
export class TxEval {
  /** Distinguishes this transaction in marks left on plans and cache entries. */
  readonly id: number;
  readonly decoder: StoredDecoder;
  readonly lookups: Lookups;
  /** Plans that received rows, in first-touch order. */
  readonly plans: PlanSink[] = [];
  readonly #delta: TxDelta;
  readonly #changes = new Map<string, TableChanges | null>();
  readonly #tableOf: (name: string) => StoreTable | undefined;

  constructor(id: number, delta: TxDelta, tableOf: (name: string) => StoreTable | undefined, decoder: StoredDecoder, lookups: Lookups) {
    this.id = id;
    this.#delta = delta;
    this.#tableOf = tableOf;
    this.decoder = decoder;
    this.lookups = lookups;
  }

  /** The changes of `table` (by source name), or undefined when the transaction left it alone. */
  changes(table: StoreTable): TableChanges | undefined {
    const name = table.def.name;
    let ch = this.#changes.get(name);
    if (ch === undefined) {
      ch = null;
      const td = this.#delta.tables.find((t) => t.table === name);
      const t = td && this.#tableOf(td.table);
      if (td && t && td.deletes.length + td.inserts.length > 0) {
        const rows = [...td.deletes, ...td.inserts];
        const signs = rows.map((_, i) => (i < td.deletes.length ? -1 : 1));
        ch = { table: t, rows, signs, values: new Array(rows.length), keys: new Array(rows.length) };
      }
      this.#changes.set(name, ch);
    }
    return ch ?? undefined;
  }

  /** Stored values of changed row `i` (decoded once, shared by every query over the table). */
  values(ch: TableChanges, i: number): SqlValue[] {
    let v = ch.values[i];
    if (v === undefined) {
      v = this.decoder.decode(ch.table, ch.rows[i]!);
      ch.values[i] = v;
    }
    return v;
  }

  /** Key of changed row `i`. */
  key(ch: TableChanges, i: number): string {
    let k = ch.keys[i];
    if (k === undefined) {
      k = bytesKey(ch.rows[i]!);
      ch.keys[i] = k;
    }
    return k;
  }

  /** Adds `sign` to `row`'s count in `plan`'s change (`key` when known, else computed). */
  emit(plan: PlanSink, row: Uint8Array, key: string | undefined, sign: number): void {
    if (plan.mark !== this.id) {
      plan.mark = this.id;
      plan.pending.clear();
      this.plans.push(plan);
    }
    const k = key ?? bytesKey(row);
    const p = plan.pending.get(k);
    if (p) p.n += sign;
    else plan.pending.set(k, { row, n: sign });
  }
}
