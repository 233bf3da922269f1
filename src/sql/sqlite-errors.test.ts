// SQLite's failures become SqlErrors in SQLite's own words, whichever path raised them.
import { describe, expect, it } from 'vitest';
import { SqliteStepError } from '../datastore/fast-stmt.ts';
import { namedSqlError } from './sqlite-errors.ts';

describe('namedSqlError', () => {
  it("states SQLite's message without the prefix of sqlite-wasm's wrappers or of the C-API path", () => {
    const oo1 = new Error('SQLITE_ERROR: sqlite3 result code 1: no such column: x');
    const fast = new SqliteStepError(1, 'SQLite error 1: no such column: x');
    for (const e of [oo1, fast]) {
      const named = namedSqlError(e);
      expect(named.name).toBe('SqlError');
      expect(named.code).toBe('SQL_FAILED');
      expect(named.message).toContain('(no such column: x)');
    }
  });

  it('names a limit the query reached as SQL_TOO_COMPLEX', () => {
    const named = namedSqlError(new SqliteStepError(1, 'SQLite error 1: too many SQL variables'));
    expect(named.code).toBe('SQL_TOO_COMPLEX');
    expect(named.message).toContain('(SQLite: too many SQL variables)');
  });
});
