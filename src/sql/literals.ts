// Literals of SpacetimeDB SQL, typed by the column they meet (as SpacetimeDB infers them) and
// encoded in the datastore's stored form, so comparisons in SQLite and in JS (subscriptions) agree.
import { bigintToOrderedBlob, type SqlValue } from '../datastore/columns.ts';
import type { StoreTable } from '../datastore/datastore.ts';
import { SqlError, UsageError } from '../errors.ts';
import type { Host } from '../host/host.ts';
import { coerceValue, encodeValue } from '../host/values.ts';
import type { Operand } from './ast.ts';
import { integerValue } from './numeric-literal.ts';

/**
 * Encodes a literal (or `:sender`) as the stored form of column `col` of `table`, checking its
 * type. Throws SqlError TYPE_MISMATCH naming the column and the expected type.
 */
export function encodeLiteral(host: Host, table: StoreTable, col: number, lit: Operand, sender: bigint): SqlValue {
  const codec = table.codecs[col]!;
  const colName = table.def.columns[col]!.canonicalName;
  const fail = (why = '') =>
    new SqlError('TYPE_MISMATCH', `${litText(lit)} is not a valid ${codec.typeName} for column ${colName}${why ? `: ${why}` : ''}`, { column: colName, expected: codec.typeName });
  if (codec.kind === 'none') {
    throw new SqlError('NOT_COMPARABLE', `column ${colName} of type ${codec.typeName} cannot be compared in SQL`, { column: colName });
  }
  const js = literalJs(lit, codec.scalar, sender);
  let typed: unknown;
  try {
    typed = coerceValue(table.def.columns[col]!.type, js, colName, host.schema.typespace);
  } catch (e) {
    throw fail(e instanceof UsageError ? e.message.replace(/^[^:]*: /, '') : '');
  }
  // Reuse the column codec on the value's BSATN so literals and rows share one encoding.
  const bytes = encodeValue(table.def.columns[col]!.type, typed, host.schema.typespace);
  return host.datastore.decodeKey(table, [col], bytes, `literal for ${colName}`)[0] ?? null;
}

/** A literal as the loosely typed JS value `coerceValue` accepts for a column of `scalar` kind. */
export function literalJs(lit: Operand, scalar: string, sender: bigint): unknown {
  switch (lit.kind) {
    case 'param':
      return scalar === 'Bytes' ? bigintToOrderedBlob(sender, 32, false) : sender;
    case 'int': {
      const v = integerValue(lit);
      return scalar === 'F32' || scalar === 'F64' ? Number(lit.text) : (v ?? lit.text);
    }
    case 'float': {
      const v = integerValue(lit);
      return scalar === 'F32' || scalar === 'F64' || v === null ? Number(lit.text) : v;
    }
    case 'string':
    case 'bool':
      return lit.value;
    case 'hex':
      return `0x${lit.digits}`;
    case 'null':
      return null;
    case 'column':
      throw new SqlError('TYPE_MISMATCH', `${lit.column} is a column, not a value`);
  }
}

/** The literal as written, for messages. */
export function litText(lit: Operand): string {
  switch (lit.kind) {
    case 'column':
      return lit.column;
    case 'param':
      return ':sender';
    default:
      return lit.text;
  }
}
