// Automatic migrations with SpacetimeDB's rules: compare the stored module's schema with a newly
// published one, refuse what SpacetimeDB forbids (naming every offending change), and apply what
// it allows to a copy of the database — new tables and indexes, columns appended with a default
// (back-filled), auto-increment added or removed, uniques removed, access changed.
import type { AlgebraicType as Ty } from 'spacetimedb';
import { columnCodec, storedToU64, typeName } from '../datastore/columns.ts';
import { columnSql, quote, SEQUENCE_TABLE, storedTableName, tableSql } from '../datastore/layout.ts';
import type { SqliteDb } from '../datastore/sqlite.ts';
import type { ModuleSchema, TableDef } from '../datastore/schema.ts';
import { BinaryReader } from 'spacetimedb';

/** The result of comparing two schemas. */
export interface MigrationPlan {
  /** Changes SpacetimeDB refuses; the migration is refused when this is not empty. */
  refused: string[];
  /** What will be done (for the publish message). */
  changes: string[];
}

const sameSet = (a: number[], b: number[]) => a.length === b.length && a.every((x) => b.includes(x));
const colNames = (t: TableDef, cols: number[]) => cols.map((c) => t.columns[c]?.name ?? String(c)).join(', ');

/** Compares the old and new schemas. */
export function planMigration(oldS: ModuleSchema, newS: ModuleSchema): MigrationPlan {
  const refused: string[] = [];
  const changes: string[] = [];
  const tyName = (ty: Ty, s: ModuleSchema) => typeName(ty, s.typespace);
  for (const ot of oldS.tables) {
    const nt = newS.tables.find((t) => t.name === ot.name);
    if (!nt) {
      refused.push(`table ${ot.name} was removed (tables cannot be removed: keep it in the module)`);
      continue;
    }
    const n = ot.columns.length;
    for (let i = 0; i < n; i++) {
      const oc = ot.columns[i]!;
      const nc = nt.columns[i];
      if (!nc) {
        refused.push(`column ${ot.name}.${oc.name} was removed`);
        continue;
      }
      if (nc.name !== oc.name) {
        refused.push(`column ${i} of ${ot.name} changed from ${oc.name} to ${nc.name} (columns cannot be renamed or reordered)`);
      } else if (tyName(nc.type, newS) !== tyName(oc.type, oldS)) {
        refused.push(`column ${ot.name}.${oc.name} changed type from ${tyName(oc.type, oldS)} to ${tyName(nc.type, newS)}`);
      }
    }
    for (let i = n; i < nt.columns.length; i++) {
      const c = nt.columns[i]!;
      if (!nt.defaultValues.has(i)) refused.push(`column ${nt.name}.${c.name} was added without a default (add .default(value) so existing rows can be filled)`);
      else changes.push(`add column ${nt.name}.${c.name} (existing rows get its default)`);
    }
    if (ot.isEvent !== nt.isEvent) refused.push(`table ${ot.name} changed ${ot.isEvent ? 'from' : 'to'} an event table`);
    if (!!ot.schedule !== !!nt.schedule) refused.push(`table ${ot.name} changed ${ot.schedule ? 'from' : 'to'} a schedule table`);
    if (ot.primaryKey === undefined && nt.primaryKey !== undefined) refused.push(`a primary key was added to ${ot.name} (${nt.columns[nt.primaryKey]?.name})`);
    for (const u of nt.uniques) {
      if (!ot.uniques.some((o) => sameSet(o, u)) && !(ot.primaryKey === undefined && nt.primaryKey !== undefined && u.length === 1 && u[0] === nt.primaryKey)) {
        refused.push(`a unique constraint was added on ${nt.name}(${colNames(nt, u)})`);
      }
    }
    for (const u of ot.uniques) if (!nt.uniques.some((x) => sameSet(x, u))) changes.push(`remove unique constraint on ${ot.name}(${colNames(ot, u)})`);
    for (const ix of nt.indexes) if (!ot.indexes.some((o) => o.sourceName === ix.sourceName)) changes.push(`add index ${ix.sourceName}`);
    for (const ix of ot.indexes) if (!nt.indexes.some((o) => o.sourceName === ix.sourceName)) changes.push(`remove index ${ix.sourceName}`);
    for (const s of nt.sequences) if (!ot.sequences.some((o) => o.column === s.column)) changes.push(`add auto-increment on ${nt.name}.${nt.columns[s.column]?.name}`);
    for (const s of ot.sequences) if (!nt.sequences.some((o) => o.column === s.column)) changes.push(`remove auto-increment on ${ot.name}.${ot.columns[s.column]?.name}`);
    if (ot.isPublic !== nt.isPublic) changes.push(`make ${nt.name} ${nt.isPublic ? 'public' : 'private'}`);
  }
  for (const nt of newS.tables) if (!oldS.tables.some((t) => t.name === nt.name)) changes.push(`add table ${nt.name}`);
  const fnNames = (s: ModuleSchema) => [...s.reducers.map((r) => r.name), ...s.procedures.map((p) => p.name), ...s.views.map((v) => v.name)].sort().join(',');
  if (fnNames(oldS) !== fnNames(newS)) changes.push('update reducers, procedures and views');
  return { refused, changes };
}

/**
 * Rewrites the stored tables of `db` (a copy of the database, before any table of the new module
 * is attached) from `oldS` to `newS`: appended columns are back-filled, old indexes dropped (the
 * datastore recreates the new module's indexes when it attaches its tables), sequences seeded.
 * Runs inside one SQLite transaction; throws (rolled back) on any failure.
 */
export function applyMigration(db: SqliteDb, oldS: ModuleSchema, newS: ModuleSchema): void {
  db.exec('BEGIN');
  try {
    for (const ot of oldS.tables) {
      const nt = newS.tables.find((t) => t.name === ot.name)!;
      const sqlName = tableSql(ot.name);
      const indexes = db.selectValues(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`, [storedTableName(ot.name)]) as string[];
      for (const name of indexes) db.exec(`DROP INDEX ${quote(name)}`);
      if (nt.columns.length > ot.columns.length) backfill(db, sqlName, ot, nt, newS);
      for (const s of nt.sequences) {
        if (ot.sequences.some((o) => o.column === s.column)) continue;
        const max = maxStored(db, sqlName, nt, s.column, newS);
        db.exec({ sql: `INSERT OR REPLACE INTO ${SEQUENCE_TABLE} (tbl, col, next) VALUES (?, ?, ?)`, bind: [nt.name, s.column, String(max === undefined ? s.start : max + s.increment)] });
      }
    }
    db.exec('COMMIT');
  } catch (e) {
    db.exec('ROLLBACK');
    throw e;
  }
}

/** Appends the new columns, each holding its default's stored value in every row. */
function backfill(db: SqliteDb, sqlName: string, ot: TableDef, nt: TableDef, newS: ModuleSchema): void {
  for (let i = ot.columns.length; i < nt.columns.length; i++) {
    const codec = columnCodec(nt.columns[i]!.type, newS.typespace);
    db.exec(`ALTER TABLE ${sqlName} ADD COLUMN ${columnSql(i)}`);
    const value = codec.read(new BinaryReader(nt.defaultValues.get(i)!));
    // -0 bound as a number would become the integer 0 and lose its sign: write it as a REAL literal.
    if (Object.is(value, -0)) db.exec(`UPDATE ${sqlName} SET ${columnSql(i)} = -0.0`);
    else db.exec({ sql: `UPDATE ${sqlName} SET ${columnSql(i)} = ?`, bind: [value] as never });
  }
}

function maxStored(db: SqliteDb, sqlName: string, t: TableDef, col: number, s: ModuleSchema): bigint | undefined {
  const codec = columnCodec(t.columns[col]!.type, s.typespace);
  const v = db.selectValue(`SELECT max(${columnSql(col)}) FROM ${sqlName}`);
  if (v === undefined || v === null) return undefined;
  if (codec.kind === 'u64') return storedToU64(v as number | bigint | Uint8Array);
  if (typeof v === 'number' || typeof v === 'bigint') return BigInt(v);
  // 128/256-bit: an ordered big-endian blob
  const b = v as Uint8Array;
  let x = 0n;
  for (const byte of b) x = (x << 8n) | BigInt(byte);
  if (codec.signed) x = BigInt.asIntN(b.length * 8, x ^ (1n << BigInt(b.length * 8 - 1)));
  return x;
}
