// A module that exercises every column type and every index kind of the
// SpacetimeDB 2.x TypeScript module API. Tests drive it through its reducers and
// observe the effects through the tables (query reducers write into `result`).
import { schema, table, t, errors, Range, SenderError, type Infer } from 'spacetimedb/server';
import { ConnectionId, Identity, ScheduleAt, TimeDuration, Timestamp, Uuid } from 'spacetimedb';

// ─── Types ──────────────────────────────────────────────────────────────────

/** A product type. */
const Point = t.object('Point', {
  x: t.i32(),
  y: t.i32(),
});

/** A sum type whose variants carry payloads (a scalar, a product, and unit). */
const Shape = t.enum('Shape', {
  Circle: t.f64(),
  Rect: t.object('Rect', { w: t.u32(), h: t.u32() }),
  Empty: t.unit(),
});

/** A simple (payload-less) enum. */
const Color = t.enum('Color', ['Red', 'Green', 'Blue']);

// ─── Tables ─────────────────────────────────────────────────────────────────

// One column of every type. The same object is the parameter list of the
// insert/update reducers below, so they take one argument per column.
const allTypesRow = {
  id: t.u32().primaryKey(),
  flag: t.bool(),
  i8: t.i8(),
  u8: t.u8(),
  i16: t.i16(),
  u16: t.u16(),
  i32: t.i32(),
  u32: t.u32(),
  i64: t.i64(),
  u64: t.u64(),
  i128: t.i128(),
  u128: t.u128(),
  i256: t.i256(),
  u256: t.u256(),
  f32: t.f32(),
  f64: t.f64(),
  text: t.string(),
  bytes: t.byteArray(),
  tags: t.array(t.string()),
  maybe: t.option(t.u32()),
  point: Point,
  shape: Shape,
  color: Color,
  owner: t.identity(),
  conn: t.connectionId(),
  at: t.timestamp(),
  duration: t.timeDuration(),
  uuid: t.uuid(),
  // A plain value column: this is NOT a schedule table.
  schedule: t.scheduleAt(),
};

const all_types = table({ public: true }, allTypesRow);

// Index kinds: primary key, unique string, single-column btree, hash,
// direct, and an explicit multi-column btree.
const person = table(
  {
    public: true,
    indexes: [{ accessor: 'by_city_age', algorithm: 'btree', columns: ['city', 'age'] }],
  },
  {
    id: t.u32().primaryKey(),
    name: t.string().unique(),
    age: t.u32().index('btree'),
    city: t.string(),
    email: t.string().index('hash'),
    level: t.u32().index('direct'),
  },
);

// Two auto-increment columns (u32 primary key, i64 unique) in one table.
const counter = table(
  { public: true },
  {
    id: t.u32().primaryKey().autoInc(),
    seq: t.i64().unique().autoInc(),
    label: t.string(),
  },
);

// No primary key: the whole row is the identity (set semantics). The btree
// index on owner_id is non-unique.
const tag = table(
  { public: true },
  {
    owner_id: t.u32().index('btree'),
    label: t.string(),
  },
);

// An event table: rows exist only during the transaction that inserts them.
const notice = table(
  { public: true, event: true },
  {
    kind: t.string(),
    text: t.string(),
  },
);

// Where query reducers report what they saw: one row per observation.
// `op` is the reducer name, `n` a number (an id or a count), `s` a string.
const result = table(
  { public: true },
  {
    id: t.u64().primaryKey().autoInc(),
    op: t.string().index('btree'),
    n: t.i64(),
    s: t.string(),
  },
);

const spacetimedb = schema({ all_types, person, counter, tag, notice, result });
export default spacetimedb;

// ─── Helpers (not exported) ─────────────────────────────────────────────────

type ResultRow = Infer<typeof result.rowType>;

/** The part of the `ctx.db.result` handle that the helpers below use. */
type Results = {
  insert(row: ResultRow): ResultRow;
  op: { delete(op: string): number };
};

/** Drops earlier results of `op`, so each call reports only its own findings. */
function resetResults(results: Results, op: string) {
  results.op.delete(op);
}

function report(results: Results, op: string, n: bigint | number, s = '') {
  results.insert({ id: 0n, op, n: BigInt(n), s });
}

/** Replaces the results of `op` with one row per matching row, n = its id. */
function reportIds(results: Results, op: string, rows: Iterable<{ id: number }>) {
  resetResults(results, op);
  let count = 0;
  for (const row of rows) {
    report(results, op, row.id);
    count++;
  }
  console.log(`${op}: ${count} row(s)`);
}

function inclusive(lo: number, hi: number): Range<number> {
  return new Range({ tag: 'included', value: lo }, { tag: 'included', value: hi });
}

// ─── all_types ──────────────────────────────────────────────────────────────

export const insert_all_types = spacetimedb.reducer(allTypesRow, (ctx, row) => {
  ctx.db.all_types.insert({ ...row, maybe: row.maybe });
});

export const update_all_types = spacetimedb.reducer(allTypesRow, (ctx, row) => {
  if (!ctx.db.all_types.id.find(row.id)) {
    throw new SenderError(`No all_types row with id ${row.id}`);
  }
  ctx.db.all_types.id.update({ ...row, maybe: row.maybe });
});

export const delete_all_types = spacetimedb.reducer({ id: t.u32() }, (ctx, { id }) => {
  const deleted = ctx.db.all_types.id.delete(id);
  resetResults(ctx.db.result, 'delete_all_types');
  report(ctx.db.result, 'delete_all_types', deleted ? 1 : 0);
});

/** Reads row `from` inside the module and re-inserts it as row `to` (a decode/encode round trip). */
export const copy_all_types = spacetimedb.reducer({ from: t.u32(), to: t.u32() }, (ctx, { from, to }) => {
  const row = ctx.db.all_types.id.find(from);
  if (!row) {
    throw new SenderError(`No all_types row with id ${from}`);
  }
  ctx.db.all_types.insert({ ...row, id: to });
});

/**
 * Inserts a row holding the minimum (`max = false`) or maximum (`max = true`)
 * value of every numeric type, with the identity, connection id, timestamp
 * and a v7 uuid taken from the reducer context.
 */
export const insert_all_types_extremes = spacetimedb.reducer({ id: t.u32(), max: t.bool() }, (ctx, { id, max }) => {
  const bits = (n: bigint) => (max ? (1n << n) - 1n : 0n);
  const signed = (n: bigint) => (max ? (1n << (n - 1n)) - 1n : -(1n << (n - 1n)));
  ctx.db.all_types.insert({
    id,
    flag: max,
    i8: Number(signed(8n)),
    u8: Number(bits(8n)),
    i16: Number(signed(16n)),
    u16: Number(bits(16n)),
    i32: Number(signed(32n)),
    u32: Number(bits(32n)),
    i64: signed(64n),
    u64: bits(64n),
    i128: signed(128n),
    u128: bits(128n),
    i256: signed(256n),
    u256: bits(256n),
    f32: max ? 3.4028234663852886e38 : -3.4028234663852886e38,
    f64: max ? Number.MAX_VALUE : -Number.MAX_VALUE,
    text: max ? 'héllo, wörld ✓ 😀' : '',
    bytes: max ? new Uint8Array([0, 1, 127, 128, 255]) : new Uint8Array(),
    tags: max ? ['a', '', 'ü'] : [],
    maybe: max ? 4294967295 : undefined,
    point: max ? { x: 2147483647, y: -2147483648 } : { x: 0, y: 0 },
    shape: max ? Shape.Rect({ w: 4294967295, h: 1 }) : Shape.Empty,
    color: max ? { tag: 'Blue' } : { tag: 'Red' },
    owner: ctx.sender,
    conn: ctx.connectionId ?? new ConnectionId(0n),
    at: ctx.timestamp,
    duration: max ? new TimeDuration(1n << 62n) : new TimeDuration(-(1n << 62n)),
    uuid: ctx.newUuidV7(),
    schedule: max ? ScheduleAt.time(ctx.timestamp.microsSinceUnixEpoch) : ScheduleAt.interval(1_000_000n),
  });
});

/** Inserts a row built from fixed, human-readable values (handy for docs and demos). */
export const insert_all_types_sample = spacetimedb.reducer({ id: t.u32() }, (ctx, { id }) => {
  ctx.db.all_types.insert({
    id,
    flag: true,
    i8: -8,
    u8: 8,
    i16: -16,
    u16: 16,
    i32: -32,
    u32: 32,
    i64: -64n,
    u64: 64n,
    i128: -128n,
    u128: 128n,
    i256: -256n,
    u256: 256n,
    f32: 1.5,
    f64: 2.25,
    text: 'sample',
    bytes: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
    tags: ['red', 'green'],
    maybe: 7,
    point: { x: 1, y: -1 },
    shape: Shape.Circle(0.5),
    color: { tag: 'Green' },
    owner: new Identity(0x1234n),
    conn: new ConnectionId(0xabcdn),
    at: new Timestamp(1_735_787_045_678_000n), // 2025-01-02T03:04:05.678Z
    duration: TimeDuration.fromMillis(1500),
    uuid: Uuid.parse('0190a9b2-7c1e-7000-8000-000000000001'),
    schedule: ScheduleAt.interval(60_000_000n),
  });
});

// ─── person: index API ──────────────────────────────────────────────────────

const personRow = {
  id: t.u32(),
  name: t.string(),
  age: t.u32(),
  city: t.string(),
  email: t.string(),
  level: t.u32(),
};

export const insert_person = spacetimedb.reducer(personRow, (ctx, row) => {
  ctx.db.person.insert(row);
});

/** Like insert_person, but catches a unique violation and reports its error name. */
export const try_insert_person = spacetimedb.reducer(personRow, (ctx, row) => {
  resetResults(ctx.db.result, 'try_insert_person');
  try {
    ctx.db.person.insert(row);
    report(ctx.db.result, 'try_insert_person', row.id, 'ok');
  } catch (e) {
    if (e instanceof errors.UniqueAlreadyExists) {
      report(ctx.db.result, 'try_insert_person', row.id, e.name);
      console.warn(`try_insert_person: ${e.name}: ${e.message}`);
    } else {
      throw e;
    }
  }
});

export const update_person_age = spacetimedb.reducer({ id: t.u32(), age: t.u32() }, (ctx, { id, age }) => {
  const person = ctx.db.person.id.find(id);
  if (!person) {
    throw new SenderError(`No person with id ${id}`);
  }
  ctx.db.person.id.update({ ...person, age });
});

/** Renames through the primary-key update; a duplicate name throws and rolls back. */
export const rename_person = spacetimedb.reducer({ id: t.u32(), name: t.string() }, (ctx, { id, name }) => {
  const person = ctx.db.person.id.find(id);
  if (!person) {
    throw new SenderError(`No person with id ${id}`);
  }
  ctx.db.person.id.update({ ...person, name });
});

export const delete_person = spacetimedb.reducer({ id: t.u32() }, (ctx, { id }) => {
  const deleted = ctx.db.person.id.delete(id);
  resetResults(ctx.db.result, 'delete_person');
  report(ctx.db.result, 'delete_person', deleted ? 1 : 0);
});

export const delete_person_by_name = spacetimedb.reducer({ name: t.string() }, (ctx, { name }) => {
  const deleted = ctx.db.person.name.delete(name);
  resetResults(ctx.db.result, 'delete_person_by_name');
  report(ctx.db.result, 'delete_person_by_name', deleted ? 1 : 0, name);
});

/** Unique-index lookup: reports the id (or -1 when absent) and the name. */
export const find_unique = spacetimedb.reducer({ name: t.string() }, (ctx, { name }) => {
  const person = ctx.db.person.name.find(name);
  resetResults(ctx.db.result, 'find_unique');
  report(ctx.db.result, 'find_unique', person ? person.id : -1, person ? person.name : '');
});

/** Btree range scan lo <= age <= hi: one result row per match, in index order. */
export const scan_range = spacetimedb.reducer({ lo: t.u32(), hi: t.u32() }, (ctx, { lo, hi }) => {
  reportIds(ctx.db.result, 'scan_range', ctx.db.person.age.filter(inclusive(lo, hi)));
});

/** Btree range scan age > lo (exclusive lower bound, unbounded upper bound). */
export const scan_age_above = spacetimedb.reducer({ lo: t.u32() }, (ctx, { lo }) => {
  reportIds(ctx.db.result, 'scan_age_above', ctx.db.person.age.filter(new Range({ tag: 'excluded', value: lo }, { tag: 'unbounded' })));
});

/** Btree point scan age == age. */
export const scan_age = spacetimedb.reducer({ age: t.u32() }, (ctx, { age }) => {
  reportIds(ctx.db.result, 'scan_age', ctx.db.person.age.filter(age));
});

/** Multi-column index, prefix of one column: city == city. */
export const scan_city = spacetimedb.reducer({ city: t.string() }, (ctx, { city }) => {
  reportIds(ctx.db.result, 'scan_city', ctx.db.person.by_city_age.filter(city));
});

/** Multi-column index, full prefix plus a range: city == city and lo <= age <= hi. */
export const scan_city_age = spacetimedb.reducer({ city: t.string(), lo: t.u32(), hi: t.u32() }, (ctx, { city, lo, hi }) => {
  reportIds(ctx.db.result, 'scan_city_age', ctx.db.person.by_city_age.filter([city, inclusive(lo, hi)]));
});

/** Multi-column index, both columns as points: city == city and age == age. */
export const scan_city_exact_age = spacetimedb.reducer({ city: t.string(), age: t.u32() }, (ctx, { city, age }) => {
  reportIds(ctx.db.result, 'scan_city_exact_age', ctx.db.person.by_city_age.filter([city, age]));
});

/** Hash index point lookup. */
export const filter_email = spacetimedb.reducer({ email: t.string() }, (ctx, { email }) => {
  reportIds(ctx.db.result, 'filter_email', ctx.db.person.email.filter(email));
});

/** Direct index point lookup. */
export const filter_level = spacetimedb.reducer({ level: t.u32() }, (ctx, { level }) => {
  reportIds(ctx.db.result, 'filter_level', ctx.db.person.level.filter(level));
});

/** Direct index range scan lo <= level <= hi. */
export const scan_level_range = spacetimedb.reducer({ lo: t.u32(), hi: t.u32() }, (ctx, { lo, hi }) => {
  reportIds(ctx.db.result, 'scan_level_range', ctx.db.person.level.filter(inclusive(lo, hi)));
});

/** Deletes lo <= age <= hi through the btree index; reports the number deleted. */
export const delete_by_range = spacetimedb.reducer({ lo: t.u32(), hi: t.u32() }, (ctx, { lo, hi }) => {
  const deleted = ctx.db.person.age.delete(inclusive(lo, hi));
  resetResults(ctx.db.result, 'delete_by_range');
  report(ctx.db.result, 'delete_by_range', deleted);
});

/** Deletes through the multi-column index by city prefix; reports the number deleted. */
export const delete_by_city = spacetimedb.reducer({ city: t.string() }, (ctx, { city }) => {
  const deleted = ctx.db.person.by_city_age.delete(city);
  resetResults(ctx.db.result, 'delete_by_city');
  report(ctx.db.result, 'delete_by_city', deleted, city);
});

/** Deletes through the hash index; reports the number deleted. */
export const delete_by_email = spacetimedb.reducer({ email: t.string() }, (ctx, { email }) => {
  const deleted = ctx.db.person.email.delete(email);
  resetResults(ctx.db.result, 'delete_by_email');
  report(ctx.db.result, 'delete_by_email', deleted, email);
});

/** Deletes through the direct index; reports the number deleted. */
export const delete_by_level = spacetimedb.reducer({ level: t.u32() }, (ctx, { level }) => {
  const deleted = ctx.db.person.level.delete(level);
  resetResults(ctx.db.result, 'delete_by_level');
  report(ctx.db.result, 'delete_by_level', deleted);
});

/** Full scan with iter(): reports the sum of all ages. */
export const sum_ages = spacetimedb.reducer((ctx) => {
  let sum = 0n;
  for (const person of ctx.db.person.iter()) {
    sum += BigInt(person.age);
  }
  resetResults(ctx.db.result, 'sum_ages');
  report(ctx.db.result, 'sum_ages', sum);
});

// ─── counter: auto-increment ────────────────────────────────────────────────

/** Inserts with both auto-inc placeholders; reports n = generated id, s = generated seq. */
export const insert_counter = spacetimedb.reducer({ label: t.string() }, (ctx, { label }) => {
  const row = ctx.db.counter.insert({ id: 0, seq: 0n, label });
  report(ctx.db.result, 'insert_counter', row.id, row.seq.toString());
});

/** Inserts with explicit (non-zero) values, which are used as given. */
export const insert_counter_explicit = spacetimedb.reducer({ id: t.u32(), seq: t.i64(), label: t.string() }, (ctx, { id, seq, label }) => {
  ctx.db.counter.insert({ id, seq, label });
});

// ─── tag: no primary key ────────────────────────────────────────────────────

/** Inserting an exact duplicate row is a no-op (set semantics). */
export const insert_tag = spacetimedb.reducer({ owner_id: t.u32(), label: t.string() }, (ctx, row) => {
  ctx.db.tag.insert(row);
});

/** Deletes by full-row equality; reports 1 if a row was deleted, else 0. */
export const delete_tag = spacetimedb.reducer({ owner_id: t.u32(), label: t.string() }, (ctx, row) => {
  const deleted = ctx.db.tag.delete(row);
  resetResults(ctx.db.result, 'delete_tag');
  report(ctx.db.result, 'delete_tag', deleted ? 1 : 0, row.label);
});

/** Deletes every tag of one owner through the non-unique btree index. */
export const delete_tags_of = spacetimedb.reducer({ owner_id: t.u32() }, (ctx, { owner_id }) => {
  const deleted = ctx.db.tag.owner_id.delete(owner_id);
  resetResults(ctx.db.result, 'delete_tags_of');
  report(ctx.db.result, 'delete_tags_of', deleted);
});

/** Lists an owner's tags: one result row per tag, n = owner_id, s = label. */
export const list_tags = spacetimedb.reducer({ owner_id: t.u32() }, (ctx, { owner_id }) => {
  resetResults(ctx.db.result, 'list_tags');
  for (const row of ctx.db.tag.owner_id.filter(owner_id)) {
    report(ctx.db.result, 'list_tags', row.owner_id, row.label);
  }
});

// ─── notice: event table ────────────────────────────────────────────────────

/** Inserts an event row; reports the event table's count inside the transaction (1). */
export const emit_notice = spacetimedb.reducer({ kind: t.string(), text: t.string() }, (ctx, row) => {
  ctx.db.notice.insert(row);
  resetResults(ctx.db.result, 'emit_notice');
  report(ctx.db.result, 'emit_notice', ctx.db.notice.count(), row.kind);
});

// ─── counts and housekeeping ────────────────────────────────────────────────

/** Reports count() of every table: one result row per table, s = table, n = count. */
export const count_rows = spacetimedb.reducer((ctx) => {
  resetResults(ctx.db.result, 'count_rows');
  // Counted before this reducer writes its own rows into `result`.
  const counts: [string, bigint][] = [
    ['all_types', ctx.db.all_types.count()],
    ['person', ctx.db.person.count()],
    ['counter', ctx.db.counter.count()],
    ['tag', ctx.db.tag.count()],
    ['notice', ctx.db.notice.count()],
    ['result', ctx.db.result.count()],
  ];
  for (const [name, count] of counts) {
    report(ctx.db.result, 'count_rows', count, name);
  }
});

/** clear() one table by name; reports s = table, n = rows removed. */
export const clear_table = spacetimedb.reducer({ table: t.string() }, (ctx, { table }) => {
  let cleared: bigint;
  switch (table) {
    case 'all_types':
      cleared = ctx.db.all_types.clear();
      break;
    case 'person':
      cleared = ctx.db.person.clear();
      break;
    case 'counter':
      cleared = ctx.db.counter.clear();
      break;
    case 'tag':
      cleared = ctx.db.tag.clear();
      break;
    case 'result':
      cleared = ctx.db.result.clear();
      break;
    default:
      throw new SenderError(`Unknown table: ${table}`);
  }
  resetResults(ctx.db.result, 'clear_table');
  report(ctx.db.result, 'clear_table', cleared, table);
});

export const clear_results = spacetimedb.reducer((ctx) => {
  ctx.db.result.clear();
});

/** Always fails after writing: the write must be rolled back. */
export const fail_after_write = spacetimedb.reducer({ message: t.string() }, (ctx, { message }) => {
  report(ctx.db.result, 'fail_after_write', 1, message);
  throw new SenderError(message);
});

/** Throws a non-SenderError (an internal error from the client's point of view). */
export const panic = spacetimedb.reducer((ctx) => {
  report(ctx.db.result, 'panic', 1);
  throw new Error('panic: deliberate internal error');
});
