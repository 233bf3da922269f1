// SpacetimeDB's ad-hoc SQL through `db.sql` / `db.query` (docs/subscriptions.md §8): projections,
// COUNT(*), joins, predicates, literals of every kind, the order of wide integers, DML, and the
// errors for what the dialect or the schema refuses. Memory databases over the example modules.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SqlError } from '../src/errors.ts';
import { bundleModule } from '../src/host/bundle.ts';
import { openDatabase, type NodeDatabase } from '../src/node/open-database.ts';
import { ALL_TYPES, CHAT, ROOT, removeTempDirs, tempDir } from './helpers/paths.ts';
import { join } from 'node:path';
import { ALL_TYPES_FIELDS } from './helpers/all-types-fields.ts';

const PRIVATE_MODULE = join(ROOT, 'test', 'helpers', 'private-module.ts');
const OTHER = `c200${'ab'.repeat(30)}`;
const THIRD = `c200${'cd'.repeat(30)}`;

let allTypesCode: string;
let chatCode: string;
let privateCode: string;
const open: NodeDatabase[] = [];

beforeAll(async () => {
  const [a, c, p] = await Promise.all([ALL_TYPES, CHAT, PRIVATE_MODULE].map(async (m) => (await bundleModule(m)).code));
  allTypesCode = a!;
  chatCode = c!;
  privateCode = p!;
}, 60_000);

afterAll(async () => {
  for (const db of open.splice(0)) await db.close().catch(() => {});
  removeTempDirs();
});

async function fresh(code: string, name: string): Promise<NodeDatabase> {
  const db = await openDatabase({ name, code });
  open.push(db);
  return db;
}

/** Rejects with a SqlError of `code`; returns it. */
async function sqlError(p: Promise<unknown>, code: string): Promise<SqlError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e, `expected SqlError ${code}`).toBeInstanceOf(SqlError);
  expect((e as SqlError).code, (e as SqlError).message).toBe(code);
  return e as SqlError;
}

const ids = (rows: Record<string, unknown>[]): number[] => rows.map((r) => Number(r.id)).sort((a, b) => a - b);

const PEOPLE: [number, string, number, string, string, number][] = [
  [1, 'Ada', 36, 'London', 'ada@example.com', 1],
  [2, 'Bob', 25, 'Paris', 'bob@example.com', 2],
  [3, "O'Neil", 50, 'London', 'oneil@example.com', 3],
  [4, 'Cy', 18, 'Rome', 'cy@example.com', 1],
];

describe('SELECT over all-types person', () => {
  let db: NodeDatabase;
  beforeAll(async () => {
    db = await fresh(allTypesCode, 'people');
    for (const p of PEOPLE) await db.call('insert_person', p);
  });

  it('SELECT * returns every row with every column, keyed by column name', async () => {
    const res = await db.query('SELECT * FROM person');
    expect(res.columns).toEqual(['id', 'name', 'age', 'city', 'email', 'level']);
    expect(res.rows).toHaveLength(4);
    expect(res.rows.find((r) => r.id === 3)).toEqual({ id: 3, name: "O'Neil", age: 50, city: 'London', email: 'oneil@example.com', level: 3 });
    expect(await db.sql('SELECT * FROM person')).toEqual(res.rows);
  });

  it('t.* with and without an alias', async () => {
    const all = await db.sql('SELECT * FROM person');
    expect(await db.sql('SELECT person.* FROM person')).toEqual(all);
    expect(await db.sql('SELECT p.* FROM person AS p')).toEqual(all);
    expect(await db.sql('SELECT p.* FROM person p')).toEqual(all);
  });

  it('projections, with aliases, in the order written', async () => {
    const res = await db.query('SELECT name AS n FROM person');
    expect(res.columns).toEqual(['n']);
    expect(res.rows.map((r) => r.n).sort()).toEqual(['Ada', 'Bob', 'Cy', "O'Neil"]);
    expect(res.rows.every((r) => Object.keys(r).length === 1)).toBe(true);
    const two = await db.query('SELECT age, name AS who, p.city FROM person AS p WHERE id = 2');
    expect(two.columns).toEqual(['age', 'who', 'city']);
    expect(two.rows).toEqual([{ age: 25, who: 'Bob', city: 'Paris' }]);
  });

  it('a self-join with aliases returns both sides, each under its own output name', async () => {
    const res = await db.query('SELECT a.name AS first, b.name AS second FROM person AS a JOIN person AS b ON a.city = b.city WHERE a.id < b.id');
    expect(res.columns).toEqual(['first', 'second']);
    expect(res.rows).toEqual([{ first: 'Ada', second: "O'Neil" }]);
  });

  it('refuses two projected columns with the same output name instead of dropping one (SpacetimeDB: DuplicateName)', async () => {
    const e = await db.query('SELECT a.name, b.name FROM person AS a JOIN person AS b ON a.age = b.age').then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(SqlError);
    expect((e as SqlError).message).toContain('name');
    const e2 = await db.query('SELECT id AS x, age AS x FROM person').then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e2).toBeInstanceOf(SqlError);
  });

  it('COUNT(*) returns one row, under its alias', async () => {
    const all = await db.query('SELECT COUNT(*) AS n FROM person');
    expect(all.columns).toEqual(['n']);
    expect(all.rows).toEqual([{ n: 4n }]);
    expect(await db.sql("SELECT COUNT(*) AS london FROM person WHERE city = 'London'")).toEqual([{ london: 2n }]);
    expect(await db.sql("SELECT COUNT(*) AS none FROM person WHERE city = 'Nowhere'")).toEqual([{ none: 0n }]);
  });

  it('COUNT(*) without an alias: one row with the count, or a SqlError (SpacetimeDB requires the alias)', async () => {
    const res = await db.query('SELECT COUNT(*) FROM person').catch((e: unknown) => e);
    if (res instanceof Error) {
      expect(res).toBeInstanceOf(SqlError);
    } else {
      const r = res as { columns: string[]; rows: Record<string, unknown>[] };
      expect(r.rows).toHaveLength(1);
      expect(r.columns).toHaveLength(1);
      expect(r.rows[0]![r.columns[0]!]).toBe(4n);
    }
  });

  it('WHERE with = != <> < <= > >=', async () => {
    expect(ids(await db.sql('SELECT * FROM person WHERE age = 36'))).toEqual([1]);
    expect(ids(await db.sql('SELECT * FROM person WHERE age != 36'))).toEqual([2, 3, 4]);
    expect(ids(await db.sql('SELECT * FROM person WHERE age <> 36'))).toEqual([2, 3, 4]);
    expect(ids(await db.sql('SELECT * FROM person WHERE age < 36'))).toEqual([2, 4]);
    expect(ids(await db.sql('SELECT * FROM person WHERE age <= 36'))).toEqual([1, 2, 4]);
    expect(ids(await db.sql('SELECT * FROM person WHERE age > 36'))).toEqual([3]);
    expect(ids(await db.sql('SELECT * FROM person WHERE age >= 36'))).toEqual([1, 3]);
    expect(ids(await db.sql('SELECT * FROM person WHERE 36 > age'))).toEqual([2, 4]);
    expect(ids(await db.sql("SELECT * FROM person WHERE city > 'Paris'"))).toEqual([4]);
  });

  it('AND, OR and parentheses, with AND binding tighter than OR', async () => {
    expect(ids(await db.sql("SELECT * FROM person WHERE city = 'London' AND age > 40"))).toEqual([3]);
    expect(ids(await db.sql("SELECT * FROM person WHERE city = 'Rome' OR age > 40"))).toEqual([3, 4]);
    expect(ids(await db.sql("SELECT * FROM person WHERE city = 'Paris' OR city = 'London' AND age < 40"))).toEqual([1, 2]);
    expect(ids(await db.sql("SELECT * FROM person WHERE (city = 'Paris' OR city = 'London') AND age < 40"))).toEqual([1, 2]);
    expect(ids(await db.sql("SELECT * FROM person WHERE (city = 'Rome' OR city = 'London') AND (age < 20 OR age > 40)"))).toEqual([3, 4]);
    expect(ids(await db.sql('SELECT * FROM person WHERE ((level = 1))'))).toEqual([1, 4]);
  });

  it('LIMIT', async () => {
    expect(await db.sql('SELECT * FROM person LIMIT 2')).toHaveLength(2);
    expect(await db.sql('SELECT * FROM person LIMIT 0')).toEqual([]);
    expect(await db.sql('SELECT * FROM person LIMIT 100')).toHaveLength(4);
    const limited = await db.sql("SELECT name FROM person WHERE city = 'London' LIMIT 1");
    expect(limited).toHaveLength(1);
    expect(['Ada', "O'Neil"]).toContain(limited[0]!.name);
  });

  it("string literals with the '' escape", async () => {
    expect(ids(await db.sql("SELECT * FROM person WHERE name = 'O''Neil'"))).toEqual([3]);
    expect(await db.sql("SELECT * FROM person WHERE name = 'O'''")).toEqual([]);
  });

  it('refuses a parse error with SqlError PARSE_ERROR and its position', async () => {
    const e = await sqlError(db.sql('SELECT * FROM person WHERE'), 'PARSE_ERROR');
    expect(e.details).toMatchObject({ line: 1, column: 27, offset: 26 });
    expect(e.message).toContain('1:27');
    const e2 = await sqlError(db.sql('SELEC * FROM person'), 'PARSE_ERROR');
    expect(e2.details).toMatchObject({ line: 1, column: 1 });
    const e3 = await sqlError(db.sql('SELECT id,\n  FROM person'), 'PARSE_ERROR');
    expect(e3.details).toMatchObject({ line: 2, column: 3 });
  });

  it('refuses constructs the dialect lacks, naming them', async () => {
    const e = await sqlError(db.sql('SELECT * FROM person ORDER BY age'), 'UNSUPPORTED');
    expect(e.message).toContain('ORDER BY');
    expect(e.details.construct).toBe('ORDER BY');
    expect((await sqlError(db.sql('SELECT * FROM person WHERE id IN (1, 2)'), 'UNSUPPORTED')).message).toContain('IN');
    expect((await sqlError(db.sql("SELECT * FROM person WHERE name LIKE 'A%'"), 'UNSUPPORTED')).message).toContain('LIKE');
  });

  it('refuses an unknown table or column, naming it', async () => {
    const t = await sqlError(db.sql('SELECT * FROM persons'), 'UNKNOWN_TABLE');
    expect(t.message).toContain('persons');
    const c = await sqlError(db.sql('SELECT * FROM person WHERE agee = 1'), 'UNKNOWN_COLUMN');
    expect(c.message).toContain('agee');
    expect(c.message).toContain('age');
    await sqlError(db.sql('SELECT nope FROM person'), 'UNKNOWN_COLUMN');
    await sqlError(db.sql('SELECT q.* FROM person AS p'), 'UNKNOWN_TABLE');
  });

  it('refuses a literal of the wrong type for its column', async () => {
    const e = await sqlError(db.sql("SELECT * FROM person WHERE age = 'x'"), 'TYPE_MISMATCH');
    expect(e.message).toContain('age');
    expect(e.message).toContain('u32');
    await sqlError(db.sql('SELECT * FROM person WHERE name = 1'), 'TYPE_MISMATCH');
    await sqlError(db.sql('SELECT * FROM person WHERE age = -1'), 'TYPE_MISMATCH');
    await sqlError(db.sql('SELECT * FROM person WHERE age = 4294967296'), 'TYPE_MISMATCH');
    await sqlError(db.sql('SELECT * FROM person WHERE age = 1.5'), 'TYPE_MISMATCH');
    await sqlError(db.sql('SELECT * FROM person WHERE age = name'), 'TYPE_MISMATCH');
  });
});

describe('literals and the order of wide integers (all_types)', () => {
  let db: NodeDatabase;
  /** Canonical SQL name of an all_types field, as describe() reports it. */
  const col: Record<string, string> = {};
  const FIELDS = ALL_TYPES_FIELDS;

  beforeAll(async () => {
    db = await fresh(allTypesCode, 'types');
    const t = (await db.describe()).tables.find((x) => x.name === 'all_types')!;
    expect(t.columns).toHaveLength(FIELDS.length);
    FIELDS.forEach((f, i) => {
      col[f] = t.columns[i]!.name;
    });
    for (const id of [1, 2, 3, 4, 5]) await db.call('insert_all_types_sample', [id]);
    // Extremes and values around 2^63 written by SQL UPDATE (the sample row has u64 64, i64 -64, i128 -128).
    const set = async (id: number, u64: string, i64: string, i128: string): Promise<void> => {
      const res = await db.query(`UPDATE all_types SET ${col.u64} = ${u64}, ${col.i64} = ${i64}, ${col.i128} = ${i128} WHERE id = ${id}`);
      expect(res.message).toMatch(/^1 row/);
    };
    await set(1, '18446744073709551615', '-9223372036854775808', '-170141183460469231731687303715884105728');
    await set(2, '9223372036854775808', '-1', '170141183460469231731687303715884105727');
    await set(3, '9223372036854775807', '0', '0');
    await set(4, '0', '9223372036854775807', '-1');
  });

  it('reads the exact values back as bigints', async () => {
    const rows = await db.sql(`SELECT id, ${col.u64} AS u, ${col.i64} AS s, ${col.i128} AS w FROM all_types`);
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(1)).toEqual({ id: 1, u: 18446744073709551615n, s: -9223372036854775808n, w: -(2n ** 127n) });
    expect(byId.get(2)).toEqual({ id: 2, u: 2n ** 63n, s: -1n, w: 2n ** 127n - 1n });
    expect(byId.get(5)).toEqual({ id: 5, u: 64n, s: -64n, w: -128n });
  });

  it('orders u64 beyond 2^63 as unsigned', async () => {
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.u64} > 9223372036854775808`))).toEqual([1]);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.u64} >= 9223372036854775808`))).toEqual([1, 2]);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.u64} < 9223372036854775808`))).toEqual([3, 4, 5]);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.u64} > 9223372036854775807 AND ${col.u64} < 18446744073709551615`))).toEqual([2]);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.u64} = 18446744073709551615`))).toEqual([1]);
  });

  it('orders negative i64 below zero, in ranges', async () => {
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.i64} < 0`))).toEqual([1, 2, 5]);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.i64} >= -64 AND ${col.i64} <= 0`))).toEqual([2, 3, 5]);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.i64} > -2 AND ${col.i64} < 1`))).toEqual([2, 3]);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.i64} <= -9223372036854775808`))).toEqual([1]);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.i64} > 0`))).toEqual([4]);
  });

  it('compares i128 literals beyond 64 bits exactly', async () => {
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.i128} = -170141183460469231731687303715884105728`))).toEqual([1]);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.i128} < 0`))).toEqual([1, 4, 5]);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.i128} > 18446744073709551616`))).toEqual([2]);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.i128} > 1e30`))).toEqual([2]);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.i128} < -18446744073709551616`))).toEqual([1]);
  });

  it('refuses integer literals outside the column type', async () => {
    await sqlError(db.sql(`SELECT id FROM all_types WHERE ${col.u64} = 18446744073709551616`), 'TYPE_MISMATCH');
    await sqlError(db.sql(`SELECT id FROM all_types WHERE ${col.u64} = -1`), 'TYPE_MISMATCH');
    await sqlError(db.sql(`SELECT id FROM all_types WHERE ${col.i64} = 9223372036854775808`), 'TYPE_MISMATCH');
    await sqlError(db.sql(`SELECT id FROM all_types WHERE ${col.i8} = 128`), 'TYPE_MISMATCH');
  });

  it('negative numbers, floats and booleans', async () => {
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.i8} = -8`))).toEqual([1, 2, 3, 4, 5]);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.i8} > -8`))).toEqual([]);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.i32} >= -32 AND ${col.i32} < -31`))).toEqual([1, 2, 3, 4, 5]);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.f64} = 2.25`))).toHaveLength(5);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.f64} > 2.5`))).toEqual([]);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.flag} = true`))).toHaveLength(5);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.flag} = FALSE`))).toEqual([]);
    await sqlError(db.sql(`SELECT id FROM all_types WHERE ${col.flag} = 1`), 'TYPE_MISMATCH');
  });

  it('hex literals for Identity and bytes', async () => {
    // The sample row's owner is Identity 0x1234.
    const owner = `${'0'.repeat(60)}1234`;
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.owner} = 0x${owner}`))).toHaveLength(5);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.owner} = X'${owner}'`))).toHaveLength(5);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.owner} = 0x${'0'.repeat(60)}1235`))).toEqual([]);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.bytes} = 0xdeadbeef`))).toHaveLength(5);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.bytes} = 0xdead`))).toEqual([]);
  });

  it('ISO timestamp strings compare with a Timestamp column', async () => {
    // The sample row's `at` is 2025-01-02T03:04:05.678Z.
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.at} = '2025-01-02T03:04:05.678Z'`))).toHaveLength(5);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.at} > '2025-01-02T03:04:05.678Z'`))).toEqual([]);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.at} > '2025-01-02T03:04:05Z' AND ${col.at} < '2025-01-02T03:04:06Z'`))).toHaveLength(5);
    expect(ids(await db.sql(`SELECT id FROM all_types WHERE ${col.at} < '2025-01-01T00:00:00Z'`))).toEqual([]);
    await sqlError(db.sql(`SELECT id FROM all_types WHERE ${col.at} < 'yesterday'`), 'TYPE_MISMATCH');
  });

  it('refuses comparing a column whose type is not comparable (array, product)', async () => {
    const e = await sqlError(db.sql(`SELECT id FROM all_types WHERE ${col.tags} = 'red'`), 'NOT_COMPARABLE');
    expect(e.message).toContain(col.tags!);
    await sqlError(db.sql(`SELECT id FROM all_types WHERE ${col.point} = 1`), 'NOT_COMPARABLE');
  });

  it('projects non-comparable columns fine', async () => {
    const rows = await db.sql(`SELECT ${col.tags} AS tags, ${col.point} AS point FROM all_types WHERE id = 5`);
    expect(rows).toEqual([{ tags: ['red', 'green'], point: { x: 1, y: -1 } }]);
  });
});

describe('chat: joins, :sender and identities', () => {
  let db: NodeDatabase;
  beforeAll(async () => {
    db = await fresh(chatCode, 'chat');
    await db.call('set_name', ['Ada']);
    await db.call('send_message', ['hi']);
    await db.call('send_message', ['there']);
    await db.call('set_name', ['Bob'], { sender: OTHER });
    await db.call('send_message', ['yo'], { sender: OTHER });
  });

  it('inner join of two tables with qualified columns', async () => {
    const rows = await db.sql('SELECT message.text, user.name FROM message JOIN user ON message.sender = user.identity');
    expect(rows.map((r) => `${r.name}:${r.text}`).sort()).toEqual(['Ada:hi', 'Ada:there', 'Bob:yo']);
    const aliased = await db.query('SELECT m.text AS said, u.name AS who FROM message AS m INNER JOIN user AS u ON m.sender = u.identity WHERE m.id > 1');
    expect(aliased.columns).toEqual(['said', 'who']);
    expect(aliased.rows.map((r) => `${r.who}:${r.said}`).sort()).toEqual(['Ada:there', 'Bob:yo']);
  });

  it('t.* over a join returns whole rows of one table', async () => {
    const rows = await db.sql(`SELECT message.* FROM message JOIN user ON message.sender = user.identity WHERE user.identity = 0x${OTHER}`);
    expect(rows).toHaveLength(1);
    expect(Object.keys(rows[0]!).sort()).toEqual(['id', 'sender', 'sent', 'text']);
    expect(rows[0]!.text).toBe('yo');
    const users = await db.sql("SELECT user.* FROM message JOIN user ON message.sender = user.identity WHERE message.text = 'yo'");
    expect(users).toHaveLength(1);
    expect(users[0]!.name).toBe('Bob');
  });

  it('COUNT(*) over a join', async () => {
    expect(await db.sql(`SELECT COUNT(*) AS n FROM message JOIN user ON message.sender = user.identity WHERE user.identity = 0x${OTHER}`)).toEqual([{ n: 1n }]);
  });

  it('refuses unqualified columns in a join', async () => {
    await sqlError(db.sql('SELECT text FROM message JOIN user ON message.sender = user.identity'), 'UNSUPPORTED');
  });

  it('hex identity literals select the rows of that sender', async () => {
    const rows = await db.sql(`SELECT text FROM message WHERE sender = 0x${OTHER}`);
    expect(rows).toEqual([{ text: 'yo' }]);
    expect(await db.sql(`SELECT text FROM message WHERE sender = 0x${THIRD}`)).toEqual([]);
    expect((await db.sql(`SELECT text FROM message WHERE sender != 0x${OTHER}`)).map((r) => r.text).sort()).toEqual(['hi', 'there']);
  });

  it(':sender is the caller (the owner by default)', async () => {
    expect((await db.sql('SELECT text FROM message WHERE sender = :sender')).map((r) => r.text).sort()).toEqual(['hi', 'there']);
    expect(await db.sql('SELECT text FROM message WHERE sender = :sender', { sender: OTHER })).toEqual([{ text: 'yo' }]);
    expect(await db.sql('SELECT text FROM message WHERE sender = :sender', { sender: THIRD })).toEqual([]);
    const me = await db.sql('SELECT name FROM user WHERE identity = :sender', { sender: OTHER });
    expect(me).toEqual([{ name: 'Bob' }]);
  });

  it('identity values come back as identities', async () => {
    const rows = await db.sql(`SELECT sender FROM message WHERE text = 'yo'`);
    const sender = rows[0]!.sender as { toHexString(): string };
    expect(sender.toHexString()).toBe(OTHER);
  });

  it('ISO timestamps compare with the sent column', async () => {
    expect(await db.sql("SELECT COUNT(*) AS n FROM message WHERE sent > '2000-01-01T00:00:00Z'")).toEqual([{ n: 3n }]);
    expect(await db.sql("SELECT COUNT(*) AS n FROM message WHERE sent < '2000-01-01T00:00:00Z'")).toEqual([{ n: 0n }]);
  });
});

describe('DML', () => {
  let db: NodeDatabase;
  beforeEach(async () => {
    db = await fresh(allTypesCode, `dml${open.length}`);
    for (const p of PEOPLE) await db.call('insert_person', p);
  });

  it('INSERT: the row is readable by SQL, and a reducer sees it', async () => {
    const res = await db.query("INSERT INTO person (id, name, age, city, email, level) VALUES (9, 'Zed', 40, 'Oslo', 'zed@example.com', 4)");
    expect(res.rows).toEqual([]);
    expect(res.message).toMatch(/1 row/);
    expect(await db.sql('SELECT * FROM person WHERE id = 9')).toEqual([{ id: 9, name: 'Zed', age: 40, city: 'Oslo', email: 'zed@example.com', level: 4 }]);
    await db.call('find_unique', ['Zed']);
    expect(await db.sql("SELECT n, s FROM result WHERE op = 'find_unique'")).toEqual([{ n: 9n, s: 'Zed' }]);
    // Through the btree index on age, too.
    await db.call('scan_range', [39, 41]);
    expect(await db.sql("SELECT n FROM result WHERE op = 'scan_range'")).toEqual([{ n: 9n }]);
  });

  it('INSERT of several rows, in column order without a column list', async () => {
    await db.sql("INSERT INTO person VALUES (10, 'Ten', 10, 'X', 'ten@example.com', 5), (11, 'Eleven', 11, 'X', 'eleven@example.com', 5)");
    expect(ids(await db.sql("SELECT id FROM person WHERE city = 'X'"))).toEqual([10, 11]);
  });

  it('INSERT that violates a unique constraint fails whole: nothing inserted', async () => {
    const e = await sqlError(db.sql("INSERT INTO person VALUES (20, 'New', 1, 'Y', 'new@example.com', 1), (21, 'Ada', 1, 'Y', 'ada2@example.com', 1)"), 'CONSTRAINT');
    expect(e.message).toContain('Ada');
    expect(await db.sql("SELECT * FROM person WHERE city = 'Y'")).toEqual([]);
    expect(await db.sql('SELECT * FROM person')).toHaveLength(4);
  });

  it('UPDATE changes a column of the matching rows only', async () => {
    const res = await db.query("UPDATE person SET age = 99 WHERE city = 'London'");
    expect(res.message).toMatch(/2 rows/);
    expect(ids(await db.sql('SELECT id FROM person WHERE age = 99'))).toEqual([1, 3]);
    expect((await db.sql('SELECT age FROM person WHERE id = 2'))[0]!.age).toBe(25);
    // A reducer sees the new value through the index.
    await db.call('scan_age', [99]);
    expect((await db.sql("SELECT n FROM result WHERE op = 'scan_age'")).map((r) => r.n).sort()).toEqual([1n, 3n]);
  });

  it("UPDATE with a string holding '' and several assignments", async () => {
    await db.sql("UPDATE person SET name = 'D''Arcy', city = 'Dublin' WHERE id = 2");
    expect(await db.sql('SELECT name, city FROM person WHERE id = 2')).toEqual([{ name: "D'Arcy", city: 'Dublin' }]);
  });

  it('UPDATE that violates a unique constraint is a SqlError and changes nothing', async () => {
    const before = await db.sql('SELECT * FROM person');
    const e = await sqlError(db.sql("UPDATE person SET name = 'Bob' WHERE id = 1"), 'CONSTRAINT');
    expect(e.message).toContain('Bob');
    // Two rows would get the same unique name: the whole statement is undone.
    await sqlError(db.sql("UPDATE person SET name = 'Same' WHERE city = 'London'"), 'CONSTRAINT');
    expect(await db.sql('SELECT * FROM person')).toEqual(before);
  });

  it('DELETE with WHERE removes only the matching rows', async () => {
    const res = await db.query("DELETE FROM person WHERE city = 'London' AND age > 40");
    expect(res.message).toMatch(/1 row/);
    expect(ids(await db.sql('SELECT * FROM person'))).toEqual([1, 2, 4]);
    await db.call('find_unique', ["O'Neil"]);
    expect(await db.sql("SELECT n FROM result WHERE op = 'find_unique'")).toEqual([{ n: -1n }]);
    await db.sql('DELETE FROM person WHERE id = 12345');
    expect(ids(await db.sql('SELECT * FROM person'))).toEqual([1, 2, 4]);
    await db.sql('DELETE FROM person');
    expect(await db.sql('SELECT * FROM person')).toEqual([]);
  });

  it('refuses INSERT without every column, and a value of the wrong type', async () => {
    await sqlError(db.sql("INSERT INTO person (id, name) VALUES (30, 'Half')"), 'MISSING_COLUMNS');
    await sqlError(db.sql("INSERT INTO person VALUES ('x', 'Bad', 1, 'Y', 'bad@example.com', 1)"), 'TYPE_MISMATCH');
    await sqlError(db.sql("UPDATE person SET age = 'old' WHERE id = 1"), 'TYPE_MISMATCH');
    expect(await db.sql('SELECT * FROM person')).toHaveLength(4);
  });

  it('DML by a sender other than the owner is refused and changes nothing', async () => {
    const before = await db.sql('SELECT * FROM person');
    await sqlError(db.sql("INSERT INTO person VALUES (40, 'Mallory', 1, 'Z', 'm@example.com', 1)", { sender: OTHER }), 'PERMISSION_DENIED');
    await sqlError(db.sql('UPDATE person SET age = 1', { sender: OTHER }), 'PERMISSION_DENIED');
    await sqlError(db.sql('DELETE FROM person', { sender: OTHER }), 'PERMISSION_DENIED');
    expect(await db.sql('SELECT * FROM person')).toEqual(before);
    // The owner, named explicitly, may.
    await db.sql('DELETE FROM person WHERE id = 4', { sender: db.owner.toHexString() });
    expect(ids(await db.sql('SELECT * FROM person'))).toEqual([1, 2, 3]);
  });

  it('DML in a file database is durable: it survives a reopen', async () => {
    const dataDir = tempDir('lightcone-sql-');
    const fdb = await openDatabase({ dataDir, name: 'people', code: allTypesCode });
    try {
      await fdb.sql("INSERT INTO person VALUES (1, 'Ada', 36, 'London', 'ada@example.com', 1), (2, 'Bob', 25, 'Paris', 'bob@example.com', 2)");
      await fdb.sql('UPDATE person SET age = 37 WHERE id = 1');
      await fdb.sql('DELETE FROM person WHERE id = 2');
    } finally {
      await fdb.close();
    }
    const again = await openDatabase({ dataDir, name: 'people' });
    try {
      expect(await again.sql('SELECT id, age FROM person')).toEqual([{ id: 1, age: 37 }]);
    } finally {
      await again.close();
    }
  });
});

describe('private tables', () => {
  let db: NodeDatabase;
  beforeAll(async () => {
    db = await fresh(privateCode, 'private');
    await db.call('add_secret', [1, 'shh']);
    await db.call('post', [1, 'hello']);
  });

  it('the owner reads a private table', async () => {
    expect(await db.sql('SELECT note FROM secret')).toEqual([{ note: 'shh' }]);
    expect(await db.sql('SELECT note FROM secret', { sender: db.owner.toHexString() })).toEqual([{ note: 'shh' }]);
  });

  it('another sender gets PERMISSION_DENIED, naming the table, also through COUNT(*) or a join', async () => {
    const e = await sqlError(db.sql('SELECT * FROM secret', { sender: OTHER }), 'PERMISSION_DENIED');
    expect(e.message).toContain('secret');
    await sqlError(db.sql('SELECT COUNT(*) AS n FROM secret', { sender: OTHER }), 'PERMISSION_DENIED');
    await sqlError(db.sql('SELECT board.* FROM board JOIN secret ON board.id = secret.id', { sender: OTHER }), 'PERMISSION_DENIED');
  });

  it('another sender still reads public tables', async () => {
    expect(await db.sql('SELECT * FROM board', { sender: OTHER })).toEqual([{ id: 1, text: 'hello' }]);
  });
});
