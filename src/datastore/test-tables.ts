// Test helper: builds TableDefs by hand (without a module) so datastore and syscall tests can
// exercise storage directly, and encodes rows with the package's serializer.
import { AlgebraicType, BinaryWriter, type AlgebraicType as Ty } from 'spacetimedb';
import type { IndexAlgorithm, TableDef } from './schema.ts';

export interface TestIndex {
  columns: string[];
  algorithm?: IndexAlgorithm;
  unique?: boolean;
}

/** A table definition from `[name, type]` columns; index names follow the runtime's scheme. */
export function testTable(name: string, cols: [string, Ty][], opts: { primaryKey?: string; indexes?: TestIndex[]; autoInc?: string[]; isEvent?: boolean } = {}): TableDef {
  const colId = (c: string) => {
    const i = cols.findIndex(([n]) => n === c);
    if (i < 0) throw new Error(`no column ${c}`);
    return i;
  };
  const indexes = (opts.indexes ?? []).map((ix) => {
    const algorithm = ix.algorithm ?? 'btree';
    const columns = ix.columns.map(colId);
    return { sourceName: `${name}_${ix.columns.join('_')}_idx_${algorithm}`, accessorName: ix.columns.join('_'), algorithm, columns, unique: ix.unique ?? false };
  });
  const pk = opts.primaryKey !== undefined ? colId(opts.primaryKey) : undefined;
  if (pk !== undefined && !indexes.some((i) => i.columns.length === 1 && i.columns[0] === pk)) {
    indexes.unshift({ sourceName: `${name}_${opts.primaryKey}_idx_btree`, accessorName: opts.primaryKey!, algorithm: 'btree', columns: [pk], unique: true });
  }
  const uniques = indexes.filter((i) => i.unique).map((i) => i.columns);
  return {
    name,
    canonicalName: name,
    columns: cols.map(([n, type], id) => ({ id, name: n, canonicalName: n, type })),
    rowType: { elements: cols.map(([n, type]) => ({ name: n, algebraicType: type })) },
    primaryKey: pk,
    uniques,
    indexes,
    sequences: (opts.autoInc ?? []).map((c) => ({ column: colId(c), start: 1n, min: 1n, max: (1n << 63n) - 1n, increment: 1n })),
    isPublic: true,
    isEvent: opts.isEvent ?? false,
    defaultValues: new Map(),
    schedule: undefined,
  };
}

/** BSATN of a row object for `def`. */
export function encodeRow(def: TableDef, row: Record<string, unknown>): Uint8Array {
  const w = new BinaryWriter(64);
  AlgebraicType.makeSerializer({ tag: 'Product', value: def.rowType } as Ty, { types: [] })(w, row);
  return w.getBuffer().slice();
}

/** BSATN of one value of type `ty`. */
export function encodeOne(ty: Ty, v: unknown): Uint8Array {
  const w = new BinaryWriter(16);
  AlgebraicType.makeSerializer(ty, { types: [] })(w, v);
  return w.getBuffer().slice();
}
