// Names the failures that SQLite itself raises while running a query Lightcone compiled: limits a
// large query can reach (expression depth, bound values, tables in a join) become SqlError
// SQL_TOO_COMPLEX with what to change, any other failure SqlError SQL_FAILED. Lightcone's own
// errors pass through unchanged.
import { LightconeError, SqlError } from '../errors.ts';

/** SQLite's messages for the limits a query's size or shape can reach. */
const LIMITS: [RegExp, string][] = [
  [/expression tree is too large/i, 'it has too many AND/OR terms, or nests them too deeply'],
  [/too many SQL variables/i, 'it compares with too many values'],
  [/at most \d+ tables in a join/i, 'it joins too many tables'],
  [/too many (terms|columns|arguments)/i, 'it has too many terms'],
  [/parser stack overflow/i, 'it nests too deeply'],
  [/pattern too complex/i, 'a pattern is too complex'],
  [/string or blob too big|SQLITE_TOOBIG/i, 'a value in it is too large'],
];

/** `e` as a Lightcone error: itself if it already is one, else a SqlError naming what SQLite refused. */
export function namedSqlError(e: unknown): LightconeError {
  if (e instanceof LightconeError) return e;
  const message = e instanceof Error ? e.message : String(e);
  // A JS stack overflow while compiling or reading the query: it is too deep in some way.
  if (e instanceof RangeError) return tooComplex('it nests too deeply', message, e);
  for (const [re, why] of LIMITS) if (re.test(message)) return tooComplex(why, message, e);
  const detail = sqliteDetail(message);
  return new SqlError('SQL_FAILED', `the query could not be run (${detail}); nothing was changed. If it is valid SpacetimeDB SQL, please report it with the query.`, { cause: message }, { cause: e });
}

/** SQLite's own words, without the prefix sqlite-wasm's wrappers or the C-API path put before them. */
function sqliteDetail(message: string): string {
  return message.replace(/^(SQLITE_\w+: sqlite3 result code \d+|SQLite error \d+): /, '');
}

function tooComplex(why: string, message: string, cause: unknown): SqlError {
  const detail = sqliteDetail(message);
  return new SqlError(
    'SQL_TOO_COMPLEX',
    `the query is too large to run: ${why} (SQLite: ${detail}); nothing was changed. Split it into several smaller queries, or filter on an indexed column instead of listing many values.`,
    { sqlite: message },
    { cause },
  );
}
