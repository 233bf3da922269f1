// Row changes as multisets of row bytes, per table: composing several transactions into the one
// net change a subscriber sees, inverting one, and the difference between two table contents.
// A row is its BSATN bytes (what the datastore stores and the wire carries), so equality is byte
// equality; sequences and schedule runs are not part of these changes.
import { bytesKey } from './bytes.ts';
import type { TxDelta } from './datastore.ts';

/** Net counts of rows per table: positive inserted, negative deleted. */
class Net {
  readonly #tables = new Map<string, Map<string, { row: Uint8Array; n: number }>>();

  add(table: string, row: Uint8Array, n: number): void {
    let t = this.#tables.get(table);
    if (!t) this.#tables.set(table, (t = new Map()));
    const k = bytesKey(row);
    const e = t.get(k);
    if (e) {
      e.n += n;
      if (e.n === 0) t.delete(k);
    } else {
      t.set(k, { row, n });
    }
  }

  delta(): TxDelta {
    const tables: TxDelta['tables'] = [];
    for (const [table, rows] of this.#tables) {
      const inserts: Uint8Array[] = [];
      const deletes: Uint8Array[] = [];
      for (const { row, n } of rows.values()) {
        for (let i = 0; i < n; i++) inserts.push(row);
        for (let i = 0; i < -n; i++) deletes.push(row);
      }
      if (inserts.length || deletes.length) tables.push({ table, inserts, deletes });
    }
    return { tables, sequences: [] };
  }
}

/** The net change of applying `deltas` in order (a row inserted then deleted cancels out). */
export function compose(deltas: readonly TxDelta[]): TxDelta {
  const net = new Net();
  for (const d of deltas) {
    for (const t of d.tables) {
      for (const row of t.deletes) net.add(t.table, row, -1);
      for (const row of t.inserts) net.add(t.table, row, 1);
    }
  }
  return net.delta();
}

/** The change that undoes `delta`. */
export function inverse(delta: TxDelta): TxDelta {
  return { tables: delta.tables.map((t) => ({ table: t.table, inserts: t.deletes, deletes: t.inserts })), sequences: [] };
}

/** The change from `before` to `after` (each: table → its rows). */
export function difference(before: ReadonlyMap<string, readonly Uint8Array[]>, after: ReadonlyMap<string, readonly Uint8Array[]>): TxDelta {
  const net = new Net();
  for (const [table, rows] of before) for (const row of rows) net.add(table, row, -1);
  for (const [table, rows] of after) for (const row of rows) net.add(table, row, 1);
  return net.delta();
}

/** True when `delta` changes no row. */
export function isEmpty(delta: TxDelta): boolean {
  return delta.tables.every((t) => t.inserts.length === 0 && t.deletes.length === 0);
}
