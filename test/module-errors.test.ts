// Bad input of every kind: broken modules, unknown names, bad arguments, malformed BSATN from a
// buggy module, a module that refuses connections, bad SQL. Each ends in a named error with a
// message that says what is wrong, and loses nothing committed before.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase, type NodeDatabase } from '../src/node/open-database.ts';
import { InternalError, ModuleError, SenderError, SqlError, UsageError } from '../src/errors.ts';
import { BANK_DIR, CHAT, removeTempDirs, tempDir } from './helpers/paths.ts';
import { rejection } from './helpers/rejection.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const TYPED = join(FIXTURES, 'typed-args.ts');

afterAll(removeTempDirs);

/** Writes `files` (path → text) under a fresh temp dir; returns the dir. */
function moduleDir(files: Record<string, string>): string {
  const dir = tempDir('lightcone-badmod-');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const GOOD_HEAD = `import { schema, table, t } from 'spacetimedb/server';
const thing = table({ public: true }, { id: t.u32().primaryKey() });
const spacetimedb = schema({ thing });
`;

/** A database in `dataDir` with one committed row, made with the typed-args fixture. */
async function committedDatabase(dataDir: string): Promise<void> {
  const db = await openDatabase({ name: 'keep', dataDir, module: TYPED });
  await db.call('record', { small: 1, big: 2n, who: '01', note: 'committed before' });
  await db.close();
}

async function expectCommittedIntact(dataDir: string): Promise<void> {
  const db = await openDatabase({ name: 'keep', dataDir, module: TYPED });
  try {
    expect(db.published).toBe('unchanged');
    expect(((await db.sql('SELECT note FROM entry')) as { note: string }[]).map((r) => r.note)).toEqual(['committed before']);
  } finally {
    await db.close();
  }
}

describe('modules that cannot be published', () => {
  it('a syntax error is ModuleError BUNDLE_FAILED naming the file and position', async () => {
    const dir = moduleDir({ 'broken-syntax.ts': `${GOOD_HEAD}export default spacetimedb;\nexport const x = (1 + ;\n` });
    const err = await rejection(openDatabase({ name: 'bad', module: join(dir, 'broken-syntax.ts') }));
    expect(err).toBeInstanceOf(ModuleError);
    expect(err.code).toBe('BUNDLE_FAILED');
    expect(err.message).toContain('broken-syntax.ts');
    expect(err.message).toMatch(/broken-syntax\.ts:5:\d+/);
  });

  it('a missing relative import is BUNDLE_FAILED naming the importing file and the import', async () => {
    const dir = moduleDir({
      'index.ts': `${GOOD_HEAD}import { helper } from './does-not-exist';\nexport default spacetimedb;\nexport const r = spacetimedb.reducer(() => { helper(); });\n`,
    });
    const err = await rejection(openDatabase({ name: 'bad', module: dir }));
    expect(err).toBeInstanceOf(ModuleError);
    expect(err.code).toBe('BUNDLE_FAILED');
    expect(err.message).toContain(join(dir, 'index.ts'));
    expect(err.message).toContain('./does-not-exist');
  });

  it('a missing package import is BUNDLE_FAILED naming the package', async () => {
    const dir = moduleDir({
      'index.ts': `${GOOD_HEAD}import pad from 'no-such-package-lightcone';\nexport default spacetimedb;\nexport const r = spacetimedb.reducer(() => { pad(); });\n`,
    });
    const err = await rejection(openDatabase({ name: 'bad', module: join(dir, 'index.ts') }));
    expect(err).toBeInstanceOf(ModuleError);
    expect(err.code).toBe('BUNDLE_FAILED');
    expect(err.message).toContain('no-such-package-lightcone');
    expect(err.message).toContain('index.ts');
  });

  it('a module that throws while loading is MODULE_LOAD_FAILED with the thrown text', async () => {
    const dir = moduleDir({ 'index.ts': `${GOOD_HEAD}export default spacetimedb;\nthrow new Error('kaboom: CONFIG is not set');\n` });
    const err = await rejection(openDatabase({ name: 'bad', module: dir }));
    expect(err).toBeInstanceOf(ModuleError);
    expect(err.code).toBe('MODULE_LOAD_FAILED');
    expect(err.message).toContain('kaboom: CONFIG is not set');
  });

  it('a module that throws a non-Error while loading reports that value', async () => {
    const dir = moduleDir({ 'index.ts': `${GOOD_HEAD}export default spacetimedb;\nthrow 'a plain string was thrown';\n` });
    const err = await rejection(openDatabase({ name: 'bad', module: dir }));
    expect(err).toBeInstanceOf(ModuleError);
    expect(err.code).toBe('MODULE_LOAD_FAILED');
    expect(err.message).toContain('a plain string was thrown');
  });

  it('a file without `export default` of the schema is NOT_A_MODULE', async () => {
    const dir = moduleDir({ 'index.ts': `${GOOD_HEAD}export const s = spacetimedb;\n` });
    const err = await rejection(openDatabase({ name: 'bad', module: dir }));
    expect(err).toBeInstanceOf(ModuleError);
    expect(err.code).toBe('NOT_A_MODULE');
    expect(err.message).toMatch(/export default/);
  });

  it('a default export that is not a schema is NOT_A_MODULE', async () => {
    const dir = moduleDir({ 'index.ts': `export default { tables: [] };\n` });
    const err = await rejection(openDatabase({ name: 'bad', module: dir }));
    expect(err).toBeInstanceOf(ModuleError);
    expect(err.code).toBe('NOT_A_MODULE');
  });

  it('exporting a helper that is not a reducer or hook is a ModuleError', async () => {
    for (const extra of ['export function helper() { return 1; }', 'export const VERSION = 3;']) {
      const dir = moduleDir({ 'index.ts': `${GOOD_HEAD}export default spacetimedb;\n${extra}\n` });
      const err = await rejection(openDatabase({ name: 'bad', module: dir }));
      expect(err, extra).toBeInstanceOf(ModuleError);
      expect(err.code, extra).toBe('MODULE_INVALID');
      expect(err.message, extra).toMatch(/not a spacetime export/);
    }
  });

  it('a module folder with another spacetimedb installed is SPACETIMEDB_VERSION_MISMATCH', async () => {
    const dir = moduleDir({
      'index.ts': `${GOOD_HEAD}export default spacetimedb;\n`,
      'node_modules/spacetimedb/package.json': JSON.stringify({ name: 'spacetimedb', version: '1.0.0' }),
    });
    const err = await rejection(openDatabase({ name: 'bad', module: dir }));
    expect(err).toBeInstanceOf(ModuleError);
    expect(err.code).toBe('SPACETIMEDB_VERSION_MISMATCH');
    expect(err.message).toContain('spacetimedb@1.0.0');
    expect(err.message).toContain('2.10.1');
    expect(err.message).toContain(join(dir, 'node_modules', 'spacetimedb', 'package.json'));
  });

  it('a module path that does not exist is MODULE_NOT_FOUND', async () => {
    const dir = tempDir('lightcone-badmod-');
    const err = await rejection(openDatabase({ name: 'bad', module: join(dir, 'nope.ts') }));
    expect(err).toBeInstanceOf(ModuleError);
    expect(err.code).toBe('MODULE_NOT_FOUND');
    expect(err.message).toContain('nope.ts');
  });

  it('publishing any of those over an existing database leaves its data intact', async () => {
    const dataDir = tempDir('lightcone-keep-');
    await committedDatabase(dataDir);
    const bad: [string, Record<string, string>][] = [
      ['BUNDLE_FAILED', { 'index.ts': `${GOOD_HEAD}export default spacetimedb;\nexport const x = (;\n` }],
      ['MODULE_LOAD_FAILED', { 'index.ts': `${GOOD_HEAD}export default spacetimedb;\nthrow new Error('load');\n` }],
      ['NOT_A_MODULE', { 'index.ts': `${GOOD_HEAD}export const s = spacetimedb;\n` }],
      ['MODULE_INVALID', { 'index.ts': `${GOOD_HEAD}export default spacetimedb;\nexport const n = 1;\n` }],
      ['SPACETIMEDB_VERSION_MISMATCH', { 'index.ts': `${GOOD_HEAD}export default spacetimedb;\n`, 'node_modules/spacetimedb/package.json': '{"name":"spacetimedb","version":"1.0.0"}' }],
    ];
    for (const [code, files] of bad) {
      const err = await rejection(openDatabase({ name: 'keep', dataDir, module: moduleDir(files) }));
      expect(err, code).toBeInstanceOf(ModuleError);
      expect(err.code).toBe(code);
    }
    await expectCommittedIntact(dataDir);
  });

  it('a module with a different schema over an existing database is refused, keeping the data', async () => {
    const dataDir = tempDir('lightcone-keep-');
    await committedDatabase(dataDir);
    const err = await rejection(openDatabase({ name: 'keep', dataDir, module: CHAT }));
    expect(err).toBeInstanceOf(ModuleError);
    expect(err.code).toBe('MIGRATION_REFUSED');
    expect(err.message).toContain('delete-data');
    await expectCommittedIntact(dataDir);
  });
});

describe('unknown names', () => {
  it('an unknown database (no module, empty dataDir) is UsageError UNKNOWN_DATABASE', async () => {
    const dataDir = tempDir('lightcone-empty-');
    const err = await rejection(openDatabase({ name: 'ghost', dataDir }));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.code).toBe('UNKNOWN_DATABASE');
    expect(err.message).toContain('ghost');
    // Nothing was created by asking: it is still unknown.
    const again = await rejection(openDatabase({ name: 'ghost', dataDir }));
    expect(again.code).toBe('UNKNOWN_DATABASE');
  });

  it('a bad database name is UsageError BAD_NAME', async () => {
    const err = await rejection(openDatabase({ name: '../escape', module: TYPED }));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.code).toBe('BAD_NAME');
  });
});

describe('calls with bad input', () => {
  let db: NodeDatabase;
  beforeEach(async () => {
    db = await openDatabase({ name: 'bank', module: BANK_DIR });
    await db.call('open_account', { id: 1n, owner: 'ann', balance: 100n });
    await db.call('open_account', { id: 2n, owner: 'bob', balance: 0n });
  });
  afterEach(async () => {
    await db.close();
  });

  async function unchanged(): Promise<void> {
    const rows = (await db.sql('SELECT * FROM account')) as { id: bigint; balance: bigint }[];
    expect(Object.fromEntries(rows.map((r) => [String(r.id), r.balance]))).toEqual({ '1': 100n, '2': 0n });
    expect(await db.sql('SELECT * FROM audit')).toEqual([]);
  }

  it('an unknown reducer is UsageError UNKNOWN_REDUCER listing the reducers', async () => {
    const err = await rejection(db.call('withdraw', { id: 1n, amount: 1n }));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.code).toBe('UNKNOWN_REDUCER');
    expect(err.message).toContain('withdraw');
    for (const name of ['open_account', 'deposit', 'transfer', 'seed']) expect(err.message).toContain(name);
    expect(err.details.known).toEqual(expect.arrayContaining(['open_account', 'deposit', 'transfer', 'seed']));
    await unchanged();
  });

  it('a wrong argument count names the expected parameters', async () => {
    const err = await rejection(db.call('transfer', [1n, 2n]));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain('transfer');
    expect(err.message).toMatch(/from: u64, to: u64, amount: u64/);
    expect(err.message).toMatch(/\b3\b/);
    expect(err.message).toMatch(/\b2\b/);
    const missing = await rejection(db.call('transfer', { from: 1n, to: 2n }));
    expect(missing).toBeInstanceOf(UsageError);
    expect(missing.message).toContain('amount');
    expect(missing.message).toContain('u64');
    const extra = await rejection(db.call('transfer', { from: 1n, to: 2n, amount: 1n, memo: 'x' }));
    expect(extra).toBeInstanceOf(UsageError);
    expect(extra.message).toContain('memo');
    expect(extra.message).toMatch(/from: u64, to: u64, amount: u64/);
    await unchanged();
  });

  it('a string for a u64 names the parameter and the type', async () => {
    const err = await rejection(db.call('transfer', { from: 1n, to: 2n, amount: 'ten' }));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain('amount');
    expect(err.message).toContain('u64');
    expect(err.message).toContain('ten');
    await unchanged();
  });

  it('a negative or too large u64 is refused with its range', async () => {
    const neg = await rejection(db.call('transfer', { from: 1n, to: 2n, amount: -1n }));
    expect(neg).toBeInstanceOf(UsageError);
    expect(neg.message).toContain('amount');
    const big = await rejection(db.call('transfer', { from: 1n, to: 2n, amount: 1n << 64n }));
    expect(big).toBeInstanceOf(UsageError);
    expect(big.message).toContain('18446744073709551615');
    await unchanged();
  });
});

describe('argument types (test/fixtures/typed-args.ts)', () => {
  let db: NodeDatabase;
  beforeEach(async () => {
    db = await openDatabase({ name: 'typed', module: TYPED });
    await db.call('record', { small: 255, big: 1n, who: 'ff', note: 'committed before' });
  });
  afterEach(async () => {
    await db.close();
  });

  async function notes(): Promise<string[]> {
    return ((await db.sql('SELECT note FROM entry')) as { note: string }[]).map((r) => r.note);
  }

  it('300 for a u8 names the parameter, the type and the range', async () => {
    const err = await rejection(db.call('record', { small: 300, big: 1n, who: 'ff', note: 'x' }));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain('small');
    expect(err.message).toContain('u8');
    expect(err.message).toContain('300');
    expect(err.message).toContain('255');
    expect(await notes()).toEqual(['committed before']);
  });

  it('a fraction or a string for a u8 is refused', async () => {
    for (const small of [1.5, '7x', true, null]) {
      const err = await rejection(db.call('record', { small, big: 1n, who: 'ff', note: 'x' }));
      expect(err, String(small)).toBeInstanceOf(UsageError);
      expect(err.message, String(small)).toContain('small');
      expect(err.message, String(small)).toContain('u8');
    }
    expect(await notes()).toEqual(['committed before']);
  });

  it('non-hex text for an identity names the parameter and the type', async () => {
    const err = await rejection(db.call('record', { small: 1, big: 1n, who: 'not an identity', note: 'x' }));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain('who');
    expect(err.message).toContain('Identity');
    expect(err.message).toContain('not an identity');
    const tooLong = await rejection(db.call('record', { small: 1, big: 1n, who: 'f'.repeat(65), note: 'x' }));
    expect(tooLong).toBeInstanceOf(UsageError);
    expect(tooLong.message).toContain('who');
    expect(await notes()).toEqual(['committed before']);
  });

  it('a number for a string names the parameter', async () => {
    const err = await rejection(db.call('record', [1, 1n, 'ff', 42]));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain('note');
    expect(err.message).toContain('string');
    expect(await notes()).toEqual(['committed before']);
  });

  it('arguments that are neither an array nor an object are refused', async () => {
    const err = await rejection(db.call('record', 'small=1'));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(/small: u8, big: u64, who: Identity, note: string/);
  });

  it('a reducer without parameters accepts no arguments and refuses extra ones', async () => {
    await db.call('noop');
    await db.call('noop', []);
    await db.call('noop', {});
    const err = await rejection(db.call('noop', [1]));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain('noop');
  });
});

describe('malformed BSATN from a buggy module (test/fixtures/bad-bsatn.ts)', () => {
  let db: NodeDatabase;
  beforeEach(async () => {
    db = await openDatabase({ name: 'bsatn', module: join(FIXTURES, 'bad-bsatn.ts') });
    await db.call('add_item', { id: 1, name: 'committed before' });
  });
  afterEach(async () => {
    await db.close();
  });

  async function items(): Promise<unknown[]> {
    return db.sql('SELECT * FROM item');
  }

  for (const kind of ['truncated', 'garbage', 'trailing']) {
    it(`${kind} row bytes: InternalError about decoding, the call rolled back, earlier rows intact`, async () => {
      const err = await rejection(db.call('insert_bad', { kind }));
      expect(err).toBeInstanceOf(InternalError);
      expect(err.message).toMatch(/BsatnDecodeError|decode/i);
      expect(err.message).toContain('item');
      // The good row the same call inserted first is gone; the committed one stays.
      expect(await items()).toEqual([{ id: 1, name: 'committed before' }]);
      const panics = (await db.logs()).filter((l) => l.level === 'panic');
      expect(panics).toHaveLength(1);
      expect(panics[0]!.message).toMatch(/decode/i);
      // The instance is still usable.
      await db.call('add_item', { id: 2, name: 'after' });
      expect(await items()).toHaveLength(2);
    });
  }

  it('the module can catch it as errors.BsatnDecodeError and go on', async () => {
    await db.call('insert_bad_caught', { kind: 'truncated' });
    await db.call('insert_bad_caught', { kind: 'garbage' });
    const caught = ((await db.sql('SELECT * FROM caught')) as { id: bigint; name: string; is_decode_error: boolean; message: string }[]).sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(caught.map((c) => [c.name, c.is_decode_error])).toEqual([
      ['BsatnDecodeError', true],
      ['BsatnDecodeError', true],
    ]);
    for (const c of caught) expect(c.message).toMatch(/decode/i);
    expect(await items()).toEqual([{ id: 1, name: 'committed before' }]);
  });
});

describe('a module whose clientConnected refuses everyone (test/fixtures/banned.ts)', () => {
  it('every call rejects with SenderError mentioning banned, and no reducer runs', async () => {
    const db = await openDatabase({ name: 'banned', module: join(FIXTURES, 'banned.ts') });
    try {
      for (const sender of [undefined, `c200${'01'.repeat(30)}`, `c200${'02'.repeat(30)}`]) {
        const err = await rejection(db.call('visit_once', { by: 'someone' }, sender === undefined ? {} : { sender }));
        expect(err).toBeInstanceOf(SenderError);
        expect(err.message).toContain('banned');
      }
      // Only init's row: neither visit_once nor client_disconnected ran.
      expect(((await db.sql('SELECT * FROM visit')) as { by: string }[]).map((r) => r.by)).toEqual(['init']);
      // Lifecycle reducers stay uncallable.
      const err = await rejection(db.call('client_connected', []));
      expect(err).toBeInstanceOf(UsageError);
      expect(err.code).toBe('LIFECYCLE_REDUCER');
    } finally {
      await db.close();
    }
  });
});

describe('SQL errors', () => {
  let db: NodeDatabase;
  beforeEach(async () => {
    db = await openDatabase({ name: 'bank', module: BANK_DIR });
    await db.call('open_account', { id: 1n, owner: 'ann', balance: 100n });
  });
  afterEach(async () => {
    await db.close();
  });

  it('SQL that does not parse is SqlError PARSE_ERROR with a position', async () => {
    for (const q of ['SELEC * FROM account', 'SELECT * FROM', 'SELECT * FROM account WHERE']) {
      const err = await rejection(db.sql(q));
      expect(err, q).toBeInstanceOf(SqlError);
      expect(err.code, q).toBe('PARSE_ERROR');
    }
    const err = await rejection(db.sql('SELEC * FROM account'));
    expect(err.message).toContain('SELEC');
    expect(err.message).toMatch(/1:1/);
  });

  it('an unknown table is SqlError UNKNOWN_TABLE naming it and the tables there are', async () => {
    const err = await rejection(db.sql('SELECT * FROM accounts'));
    expect(err).toBeInstanceOf(SqlError);
    expect(err.code).toBe('UNKNOWN_TABLE');
    expect(err.message).toContain('accounts');
    expect(err.message).toContain('account');
    expect(err.message).toContain('audit');
  });

  it('an unknown column is SqlError UNKNOWN_COLUMN; nothing changes after any SQL error', async () => {
    const err = await rejection(db.sql('SELECT nope FROM account'));
    expect(err).toBeInstanceOf(SqlError);
    expect(err.code).toBe('UNKNOWN_COLUMN');
    expect(err.message).toContain('nope');
    await rejection(db.sql('UPDATE account SET balance = 5 WHERE nope = 1'));
    expect(await db.sql('SELECT * FROM account')).toEqual([{ id: 1n, owner: 'ann', balance: 100n }]);
  });

  const orChain = (n: number, verb = 'SELECT * FROM account') => `${verb} WHERE ${Array.from({ length: n }, (_, i) => `id = ${i + 100}`).join(' OR ')}`;

  it('a LIMIT beyond i64 (SpacetimeDB takes a u64) returns every row; beyond u64 it is BAD_LIMIT', async () => {
    expect(await db.sql('SELECT * FROM account LIMIT 9223372036854775808')).toHaveLength(1);
    expect(await db.sql('SELECT COUNT(*) AS n FROM account LIMIT 18446744073709551615')).toEqual([{ n: 1n }]);
    const err = await rejection(db.sql('SELECT * FROM account LIMIT 18446744073709551616'));
    expect(err).toBeInstanceOf(SqlError);
    expect(err.code).toBe('BAD_LIMIT');
    expect(err.message).toContain('18446744073709551615');
  });

  it('a query past the limits of SQLite (a 20,000-term OR, 70 joined tables) is SqlError SQL_TOO_COMPLEX saying to split it; nothing changes', async () => {
    const queries = [
      orChain(20_000),
      orChain(20_000, 'DELETE FROM account'),
      orChain(20_000, "UPDATE account SET owner = 'x'"),
      `SELECT * FROM account WHERE ${Array.from({ length: 20_000 }, (_, i) => `balance <> ${i}`).join(' AND ')}`,
      `SELECT account.* FROM account ${Array.from({ length: 70 }, (_, i) => `JOIN account AS a${i} ON a${i}.id = account.id`).join(' ')}`,
    ];
    for (const q of queries) {
      const err = await rejection(db.sql(q));
      expect(err, q.slice(0, 40)).toBeInstanceOf(SqlError);
      expect(err.code, q.slice(0, 40)).toBe('SQL_TOO_COMPLEX');
      expect(err.message).toMatch(/split it/i);
    }
    expect(await db.sql('SELECT * FROM account')).toEqual([{ id: 1n, owner: 'ann', balance: 100n }]);
  });

  it('a subscription past the limits of SQLite ends with SqlError SQL_TOO_COMPLEX', async () => {
    const err = await new Promise<unknown>((resolve) => {
      const sub = db.subscribe([orChain(20_000)], { onApplied: () => resolve('applied'), onError: resolve });
      sub.applied.catch(() => {});
    });
    expect(err).toBeInstanceOf(SqlError);
    expect((err as SqlError).code).toBe('SQL_TOO_COMPLEX');
  });
});
