// How the datastore lays a module's tables out in SQLite, in one place: table, column and index
// names, the rowid every table has, and the internal tables. Everything that writes SQL
// against the datastore's tables (migrations, ad-hoc SQL, subscriptions) asks this module for
// names instead of spelling them again. Value encodings are in `columns.ts`.

/**
 * A row's id inside the datastore (never exposed), as queries name it: SQLite's `rowid`. A table
 * whose primary key is one integer column keeps that column as its rowid (one B-tree, no key
 * index); any other table has a `ROW_ID_COLUMN` for it.
 */
export const ROW_ID = 'rowid';
/** The column a table without an integer primary key declares as its rowid. */
export const ROW_ID_COLUMN = '_rid';
/** Internal table of named blobs (the module, the call-id ledger, the database description). */
export const META_TABLE = '_lc_meta';
/** Internal table of the sequences' next values. */
export const SEQUENCE_TABLE = '_lc_seq';
/** Internal table of interval schedules' last runs. */
export const SCHEDULE_TABLE = '_lc_sched';

/** The SQLite name of module table `name` (unquoted, as `sqlite_master.tbl_name` holds it). */
export function storedTableName(name: string): string {
  return `t:${name}`;
}

/** The SQLite table of module table `name`, quoted for use in SQL. */
export function tableSql(name: string): string {
  return quote(storedTableName(name));
}

/** The SQLite column of column `index` (its position in the row type). */
export function columnSql(index: number): string {
  return `c${index}`;
}

/**
 * The result columns a row of `table` is rebuilt from (`row-bytes.ts`): every stored column in
 * row order, of the table or of `alias` (`alias.c0, alias.c1, …`).
 */
export function rowColumnsSql(table: { codecs: readonly unknown[] }, alias?: string): string {
  const prefix = alias ? `${alias}.` : '';
  return table.codecs.map((_, i) => `${prefix}${columnSql(i)}`).join(', ');
}

/** The SQLite index enforcing unique constraint `n` of table `table` (quoted). */
export function uniqueIndexSql(table: string, n: number | 'row'): string {
  return quote(`u:${table}:${n}`);
}

/** The SQLite index of a module index, by its source name (quoted). */
export function indexSql(sourceName: string): string {
  return quote(`i:${sourceName}`);
}

/** `name` as a quoted SQLite identifier. */
export function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
