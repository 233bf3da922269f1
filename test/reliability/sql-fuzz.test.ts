// SQL fuzzing with a fixed seed: random queries from a grammar of the dialect over a test schema
// (projections, joins, COUNT(*), WHERE trees, LIMIT, INSERT/UPDATE/DELETE, as the owner and as
// another identity), the same queries mutated into garbage, and huge inputs (20,000-term OR
// chains, deep nesting, LIMITs beyond u64, megabyte literals). Every failure must be a named
// Lightcone error (SqlError or UsageError with a code), never a raw SQLite Error, TypeError or
// RangeError; every query the grammar knows to be valid must succeed with the rows a JS oracle
// computes from a model of the tables. Replay with LIGHTCONE_SEED=<seed>.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LightconeError } from '../../src/errors.ts';
import { bundleModule } from '../../src/host/bundle.ts';
import { openDatabase, type NodeDatabase } from '../../src/node/open-database.ts';
import { lightcone } from '../helpers/cli.ts';
import { BANK_DIR, ROOT, removeTempDirs, tempDir } from '../helpers/paths.ts';
import { prng, Rng } from '../helpers/prng.ts';
import { Figures, LONG, size, suiteSeed } from './figures.ts';

const MODULE = join(ROOT, 'test', 'reliability', 'fixtures', 'fuzz-schema.ts');
const OTHER = `c200${'ab'.repeat(30)}`;
const seed = suiteSeed(20_250_903);
const QUERIES = size(1_500, 60_000);
const figures = new Figures('sql-fuzz', seed);

afterAll(() => {
  figures.report();
  removeTempDirs();
});

// ── the model ────────────────────────────────────────────────────────────────────────────────

type Kind = 'u32' | 'u8' | 'i32' | 'i64' | 'u128' | 'string' | 'bool';
type Val = number | bigint | string | boolean;
type Row = Record<string, Val>;
interface Col {
  name: string;
  kind: Kind;
}
interface Table {
  name: 'item' | 'link' | 'secret';
  cols: Col[];
  rows: Row[];
}

const RANGES: Record<Exclude<Kind, 'string' | 'bool'>, [bigint, bigint]> = {
  u8: [0n, 255n],
  u32: [0n, 4294967295n],
  i32: [-2147483648n, 2147483647n],
  i64: [-(1n << 63n), (1n << 63n) - 1n],
  u128: [0n, (1n << 128n) - 1n],
};
const wide = (k: Kind): boolean => k === 'i64' || k === 'u128';

function tables(): Table[] {
  return [
    {
      name: 'item',
      cols: [
        { name: 'id', kind: 'u32' },
        { name: 'qty', kind: 'u32' },
        { name: 'n', kind: 'i64' },
        { name: 'u', kind: 'u8' },
        { name: 'big', kind: 'u128' },
        { name: 'name', kind: 'string' },
        { name: 'flag', kind: 'bool' },
      ],
      rows: [],
    },
    {
      name: 'link',
      cols: [
        { name: 'id', kind: 'u32' },
        { name: 'item_id', kind: 'u32' },
        { name: 'w', kind: 'i32' },
      ],
      rows: [],
    },
    {
      name: 'secret',
      cols: [
        { name: 'id', kind: 'u32' },
        { name: 'note', kind: 'string' },
      ],
      rows: [],
    },
  ];
}

const NAMES = ['', 'a', 'A', 'b', 'ab', "O'Neil", 'zz', 'é', 'ü', '日本', '😀', 'a b', 'x'.repeat(40), 'NULL', 'select', '0', '-1'];
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

function compare(kind: Kind, a: Val, b: Val): number {
  if (kind === 'string') return Buffer.compare(utf8(a as string), utf8(b as string));
  if (kind === 'bool') return Number(a) - Number(b);
  const x = BigInt(a as number | bigint);
  const y = BigInt(b as number | bigint);
  return x < y ? -1 : x > y ? 1 : 0;
}

const canon = (v: unknown): string => (typeof v === 'bigint' ? `${v}n` : JSON.stringify(v));
const canonRow = (r: Record<string, unknown>): string =>
  Object.entries(r)
    .map(([k, v]) => `${k}=${canon(v)}`)
    .join(',');

// ── predicates, evaluated by the oracle and printed as SQL ───────────────────────────────────

type Op = '=' | '!=' | '<>' | '<' | '<=' | '>' | '>=';
type Ref = { rel: string; col: Col };
type Pred =
  | { k: 'cmp'; left: Ref; op: Op; right: { lit: Val } | { ref: Ref }; flipped: boolean }
  | { k: 'bool'; ref: Ref }
  | { k: 'lit'; value: boolean }
  | { k: 'and' | 'or'; parts: Pred[] }
  | { k: 'not'; inner: Pred };

type Env = Record<string, Row>;

function holds(p: Pred, env: Env): boolean {
  switch (p.k) {
    case 'cmp': {
      const a = env[p.left.rel]![p.left.col.name]!;
      const b = 'lit' in p.right ? p.right.lit : env[p.right.ref.rel]![p.right.ref.col.name]!;
      const c = compare(p.left.col.kind, a, b);
      switch (p.op) {
        case '=':
          return c === 0;
        case '!=':
        case '<>':
          return c !== 0;
        case '<':
          return c < 0;
        case '<=':
          return c <= 0;
        case '>':
          return c > 0;
        case '>=':
          return c >= 0;
      }
      break;
    }
    case 'bool':
      return env[p.ref.rel]![p.ref.col.name] === true;
    case 'lit':
      return p.value;
    case 'and':
      return p.parts.every((q) => holds(q, env));
    case 'or':
      return p.parts.some((q) => holds(q, env));
    case 'not':
      return !holds(p.inner, env);
  }
}

function literal(kind: Kind, v: Val): string {
  if (kind === 'string') return `'${(v as string).replaceAll("'", "''")}'`;
  if (kind === 'bool') return v ? 'true' : 'false';
  return String(v);
}

const FLIP: Record<Op, Op> = { '=': '=', '!=': '!=', '<>': '<>', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

function printPred(p: Pred, qualify: boolean): string {
  const name = (r: Ref): string => (qualify ? `${r.rel}.${r.col.name}` : r.col.name);
  switch (p.k) {
    case 'cmp': {
      const right = 'lit' in p.right ? literal(p.left.col.kind, p.right.lit) : name(p.right.ref);
      return p.flipped ? `${right} ${FLIP[p.op]} ${name(p.left)}` : `${name(p.left)} ${p.op} ${right}`;
    }
    case 'bool':
      return name(p.ref);
    case 'lit':
      return p.value ? 'true' : 'false';
    case 'and':
    case 'or':
      return `(${p.parts.map((q) => printPred(q, qualify)).join(` ${p.k.toUpperCase()} `)})`;
    case 'not':
      return `NOT (${printPred(p.inner, qualify)})`;
  }
}

// ── the generator ────────────────────────────────────────────────────────────────────────────

class Gen extends Rng {
  chance(p: number): boolean {
    return this.rand() < p;
  }

  /** A value of `kind`: often one already stored (so that `=` matches), else a boundary or random. */
  value(kind: Kind, existing: Val[]): Val {
    if (existing.length > 0 && this.chance(0.5)) return this.pick(existing);
    if (kind === 'string') return this.pick(NAMES);
    if (kind === 'bool') return this.chance(0.5);
    const [lo, hi] = RANGES[kind];
    const choices = [lo, hi, lo + 1n, hi - 1n, 0n < lo ? lo : 0n, lo + ((hi - lo) * BigInt(this.int(1000))) / 1000n];
    const v = this.pick(choices);
    return wide(kind) ? v : Number(v);
  }

  pred(rels: Table[], depth: number): Pred {
    const r = this.rand();
    if (depth > 0 && r < 0.3) {
      const parts = Array.from({ length: 2 + this.int(3) }, () => this.pred(rels, depth - 1));
      return { k: this.chance(0.5) ? 'and' : 'or', parts };
    }
    if (depth > 0 && r < 0.37) return { k: 'not', inner: this.pred(rels, depth - 1) };
    if (r < 0.4) return { k: 'lit', value: this.chance(0.5) };
    const t = this.pick(rels);
    const col = this.pick(t.cols);
    const left = { rel: t.name, col };
    if (col.kind === 'bool' && this.chance(0.3)) return { k: 'bool', ref: left };
    const ops: Op[] = col.kind === 'bool' ? ['=', '!=', '<>'] : ['=', '!=', '<>', '<', '<=', '>', '>='];
    const op = this.pick(ops);
    const same = rels.flatMap((o) => o.cols.filter((c) => c.kind === col.kind).map((c) => ({ rel: o.name, col: c })));
    if (this.chance(0.15) && same.length > 1) return { k: 'cmp', left, op, right: { ref: this.pick(same) }, flipped: false };
    const existing = t.rows.map((row) => row[col.name]!);
    return { k: 'cmp', left, op, right: { lit: this.value(col.kind, existing) }, flipped: this.chance(0.2) };
  }

  /** A random-case keyword: the dialect's keywords are case-insensitive. */
  kw(word: string): string {
    return this.chance(0.8) ? word : [...word].map((c) => (this.chance(0.5) ? c.toLowerCase() : c)).join('');
  }
}

interface Valid {
  sql: string;
  /** The rows the oracle expects, canonical, sorted; `limit` when LIMIT cut them. */
  expect?: { rows: string[]; limit: number | undefined };
  /** A DML statement: applies it to the model when the database accepted it. */
  apply?: () => void;
  /** The owner-only statements a non-owner must be refused. */
  ownerOnly?: boolean;
}

function selectQuery(g: Gen, model: Table[], owner: boolean): Valid {
  const visible = owner ? model : model.filter((t) => t.name !== 'secret');
  const joined = g.chance(0.25);
  const item = model[0]!;
  const link = model[1]!;
  const rels: Table[] = joined ? [item, link] : [g.pick(visible)];
  const where = g.chance(0.8) ? g.pred(rels, 3) : undefined;
  const limit = g.chance(0.25) ? g.int(g.chance(0.5) ? 5 : 100) : undefined;
  const count = g.chance(0.15);
  let envs: Env[];
  if (joined) {
    envs = [];
    for (const a of item.rows) for (const b of link.rows) if (a.id === b.item_id) envs.push({ item: a, link: b });
  } else {
    envs = rels[0]!.rows.map((row) => ({ [rels[0]!.name]: row }));
  }
  const matching = where ? envs.filter((e) => holds(where, e)) : envs;
  // Projection: *, t.*, or named columns (some with aliases).
  let proj: string;
  let shape: (e: Env) => Record<string, unknown>;
  if (count) {
    proj = `${g.kw('COUNT')}(*) ${g.kw('AS')} total`;
    const n = limit === undefined ? matching.length : Math.min(limit, matching.length);
    shape = () => ({ total: BigInt(n) });
  } else if (!joined && g.chance(0.4)) {
    proj = g.chance(0.5) ? '*' : `${rels[0]!.name}.*`;
    shape = (e) => ({ ...e[rels[0]!.name] });
  } else if (joined && g.chance(0.4)) {
    const side = g.pick(rels);
    proj = `${side.name}.*`;
    shape = (e) => ({ ...e[side.name] });
  } else {
    const cols = rels.flatMap((t) => t.cols.map((col) => ({ rel: t.name, col })));
    const chosen = cols.filter(() => g.chance(0.4));
    if (chosen.length === 0) chosen.push(g.pick(cols));
    const names = chosen.map((c, i) => (g.chance(0.3) || (joined && chosen.some((o, j) => j !== i && o.col.name === c.col.name)) ? `c${i}` : c.col.name));
    proj = chosen.map((c, i) => `${joined ? `${c.rel}.` : ''}${c.col.name}${names[i] !== c.col.name ? ` ${g.kw('AS')} ${names[i]}` : ''}`).join(', ');
    shape = (e) => Object.fromEntries(chosen.map((c, i) => [names[i]!, e[c.rel]![c.col.name]]));
  }
  const from = joined ? `item ${g.kw('JOIN')} link ${g.kw('ON')} item.id = link.item_id` : rels[0]!.name;
  const sql = `${g.kw('SELECT')} ${proj} ${g.kw('FROM')} ${from}${where ? ` ${g.kw('WHERE')} ${printPred(where, joined)}` : ''}${limit !== undefined ? ` ${g.kw('LIMIT')} ${limit}` : ''}`;
  const rows = count ? [canonRow(shape({}))] : matching.map((e) => canonRow(shape(e))).sort();
  return { sql, expect: { rows, limit: count ? undefined : limit } };
}

function dmlQuery(g: Gen, model: Table[]): Valid {
  const item = model[0]!;
  const r = g.rand();
  if (r < 0.4) {
    // INSERT one or two rows; a duplicate id makes the whole statement fail and change nothing.
    const rows: Row[] = Array.from({ length: 1 + g.int(2) }, () => {
      const row: Row = {};
      for (const c of item.cols) row[c.name] = g.value(c.kind, []);
      row.id = g.chance(0.2) && item.rows.length > 0 ? g.pick(item.rows).id! : 100_000 + g.int(1_000_000);
      return row;
    });
    const ids = new Set<Val>();
    const clash = rows.some((row) => ids.size === ids.add(row.id!).size || item.rows.some((x) => x.id === row.id));
    const sql = `${g.kw('INSERT')} ${g.kw('INTO')} item (${item.cols.map((c) => c.name).join(', ')}) ${g.kw('VALUES')} ${rows.map((row) => `(${item.cols.map((c) => literal(c.kind, row[c.name]!)).join(', ')})`).join(', ')}`;
    return { sql, ownerOnly: true, ...(clash ? { mustFail: true } : {}), apply: () => item.rows.push(...rows) } as Valid;
  }
  const where = g.pred([item], 2);
  if (r < 0.7) {
    const col = g.pick(item.cols.filter((c) => c.name !== 'id'));
    const value = g.value(
      col.kind,
      item.rows.map((x) => x[col.name]!),
    );
    return {
      sql: `${g.kw('UPDATE')} item ${g.kw('SET')} ${col.name} = ${literal(col.kind, value)} ${g.kw('WHERE')} ${printPred(where, false)}`,
      ownerOnly: true,
      apply: () => {
        for (const row of item.rows) if (holds(where, { item: row })) row[col.name] = value;
      },
    };
  }
  return {
    sql: `${g.kw('DELETE')} ${g.kw('FROM')} item ${g.kw('WHERE')} ${printPred(where, false)}`,
    ownerOnly: true,
    apply: () => {
      item.rows = item.rows.filter((row) => !holds(where, { item: row }));
    },
  };
}

// ── garbage ──────────────────────────────────────────────────────────────────────────────────

const JUNK = [
  'ORDER BY id',
  'GROUP BY id',
  "LIKE 'a%'",
  'IN (1, 2)',
  'IS NULL',
  'BETWEEN 1 AND 2',
  'UNION SELECT * FROM item',
  'OFFSET 3',
  'HAVING',
  'DISTINCT',
  '||',
  '::text',
  'count(id)',
  'sum(n)',
  'lower(name)',
  '*',
  '/',
  '%',
  ';',
  '--',
  '/*',
  "'",
  '"',
  '`',
  '\\',
  '\u0000',
  '😀',
  '\uD800',
  '(',
  ')',
  ',',
  '.',
  '?',
  ':sender',
  ':other',
  '$1',
  '@x',
  'NULL',
  'NOT',
  'EXISTS (SELECT 1)',
  "x'zz'",
  "X'0F'",
  "E'a'",
  '0x',
  '0xfff',
  '1e',
  '1e999999',
  '-',
  '+',
  '=',
  '==',
  '!',
  '<=>',
  'SELECT',
  'FROM',
  'WHERE',
  'JOIN',
  'LIMIT',
  'LIMIT -1',
  'LIMIT 1.5',
  'CROSS JOIN link',
  'LEFT JOIN link ON true',
  'AS',
  'item',
  'link',
  'secret',
  'nosuch',
  'item.nosuch',
  "'unterminated",
  '"unterminated',
  '/* unterminated',
  '9'.repeat(400),
  '-9'.repeat(50),
  '1.7976931348623157e309',
  'true',
  'false',
  'TRUE',
  '  ',
  '\n',
  '\t',
];

function mutate(g: Gen, sql: string): string {
  const tokens = sql.split(/(\s+)/);
  const r = g.rand();
  if (r < 0.2) tokens.splice(g.int(tokens.length), 1);
  else if (r < 0.45) tokens.splice(g.int(tokens.length + 1), 0, ` ${g.pick(JUNK)} `);
  else if (r < 0.55) {
    const i = g.int(tokens.length);
    const j = g.int(tokens.length);
    [tokens[i], tokens[j]] = [tokens[j]!, tokens[i]!];
  } else if (r < 0.65) return sql.slice(0, g.int(sql.length + 1));
  else if (r < 0.75) return Array.from({ length: 1 + g.int(40) }, () => String.fromCodePoint(g.chance(0.7) ? 32 + g.int(95) : g.int(0x10000))).join('');
  else if (r < 0.9) {
    // A literal swapped for one of another type or out of its column's range.
    const literals = [
      '256',
      '-1',
      '-129',
      '4294967296',
      '9223372036854775808',
      '-9223372036854775809',
      '340282366920938463463374607431768211456',
      "'text'",
      'true',
      '1.5',
      '1e3',
      "0x'ff'",
      ':sender',
      `0x${'f'.repeat(70)}`,
    ];
    return sql.replace(/(?<=[=<>] )(-?\d+|'(?:[^']|'')*'|true|false)/, g.pick(literals));
  } else tokens.push(` ${g.pick(JUNK)}`);
  return tokens.join('');
}

function hugeInputs(): { name: string; sql: string; valid?: (model: Table[]) => string[] }[] {
  const ids = (model: Table[]): string[] => model[0]!.rows.map((r) => canonRow(r)).sort();
  const or = Array.from({ length: 20_000 }, (_, i) => `id = ${i}`).join(' OR ');
  const and = Array.from({ length: 20_000 }, () => 'id >= 0').join(' AND ');
  return [
    {
      name: '20,000-term OR chain',
      sql: `SELECT * FROM item WHERE ${or}`,
      valid: (m) =>
        m[0]!.rows
          .filter((r) => (r.id as number) < 20_000)
          .map((r) => canonRow(r))
          .sort(),
    },
    { name: '20,000-term AND chain', sql: `SELECT * FROM item WHERE ${and}`, valid: ids },
    {
      name: '2,000-term OR chain',
      sql: `SELECT * FROM item WHERE ${Array.from({ length: 2_000 }, (_, i) => `id = ${i}`).join(' OR ')}`,
      valid: (m) =>
        m[0]!.rows
          .filter((r) => (r.id as number) < 2_000)
          .map((r) => canonRow(r))
          .sort(),
    },
    { name: '1,000 nested parentheses', sql: `SELECT * FROM item WHERE ${'('.repeat(1_000)}id >= 0${')'.repeat(1_000)}` },
    { name: '100,000 nested parentheses', sql: `SELECT * FROM item WHERE ${'('.repeat(100_000)}id >= 0${')'.repeat(100_000)}` },
    { name: '10,000 NOTs', sql: `SELECT * FROM item WHERE ${'NOT '.repeat(10_000)}id >= 0`, valid: ids },
    { name: '100,000 NOTs', sql: `SELECT * FROM item WHERE ${'NOT '.repeat(100_000)}id >= 0` },
    { name: 'LIMIT i64 max', sql: 'SELECT * FROM item LIMIT 9223372036854775807', valid: ids },
    { name: 'LIMIT 2^63', sql: 'SELECT * FROM item LIMIT 9223372036854775808' },
    { name: 'LIMIT 2^64', sql: 'SELECT * FROM item LIMIT 18446744073709551616' },
    { name: 'LIMIT 40 digits', sql: `SELECT * FROM item LIMIT ${'9'.repeat(40)}` },
    { name: 'LIMIT 1e400', sql: 'SELECT * FROM item LIMIT 1e400' },
    { name: 'LIMIT 1e3', sql: 'SELECT * FROM item LIMIT 1e3', valid: ids },
    { name: 'LIMIT -1', sql: 'SELECT * FROM item LIMIT -1' },
    { name: 'COUNT with LIMIT 2^63', sql: 'SELECT COUNT(*) AS n FROM item LIMIT 9223372036854775808' },
    { name: 'a 1 MiB string literal', sql: `SELECT * FROM item WHERE name = '${'x'.repeat(1 << 20)}'`, valid: () => [] },
    { name: 'a 100,000-character identifier', sql: `SELECT * FROM ${'t'.repeat(100_000)}` },
    { name: 'a 10,000-digit integer', sql: `SELECT * FROM item WHERE big = ${'9'.repeat(10_000)}` },
    { name: '1e99999 against an i64', sql: 'SELECT * FROM item WHERE n = 1e99999' },
    { name: 'a 20,000-column projection', sql: `SELECT ${Array.from({ length: 20_000 }, (_, i) => `id AS c${i}`).join(', ')} FROM item` },
    { name: '70 joins', sql: `SELECT item.* FROM item ${Array.from({ length: 70 }, (_, i) => `JOIN link AS l${i} ON item.id = l${i}.item_id`).join(' ')}` },
    { name: 'an IN list of 20,000', sql: `SELECT * FROM item WHERE id IN (${Array.from({ length: 20_000 }, (_, i) => i).join(', ')})` },
    { name: 'two statements', sql: 'SELECT * FROM item; SELECT * FROM link' },
    { name: 'empty', sql: '' },
    { name: 'only a comment', sql: '-- nothing' },
    { name: 'a NUL byte', sql: 'SELECT * FROM item\u0000' },
    { name: 'a lone surrogate literal', sql: "SELECT * FROM item WHERE name = '\uD800'", valid: () => [] },
    { name: 'an UPDATE with a 1 MiB string matching nothing', sql: `UPDATE item SET name = '${'y'.repeat(1 << 20)}' WHERE id = 4294967295` },
    {
      name: 'an INSERT of 5,000 rows with a duplicate id at the end',
      sql: `INSERT INTO item (id, qty, n, u, big, name, flag) VALUES ${Array.from({ length: 5_000 }, (_, i) => `(${2_000_000 + i}, 0, 0, 0, 0, 'bulk', false)`).join(', ')}, (2000000, 0, 0, 0, 0, 'dup', false)`,
    },
  ];
}

// ── the run ──────────────────────────────────────────────────────────────────────────────────

/** Why an error is not acceptable, or undefined when it is a named Lightcone error. */
function unnamed(e: unknown): string | undefined {
  if (e instanceof LightconeError && (e.name === 'SqlError' || e.name === 'UsageError') && /^[A-Z][A-Z0-9_]+$/.test(e.code) && e.message.length > 0) return undefined;
  if (e instanceof LightconeError) return `${e.name} ${e.code}: ${e.message.slice(0, 200)}`;
  return `${(e as Error)?.constructor?.name ?? typeof e} (not a Lightcone error): ${String((e as Error)?.message ?? e).slice(0, 200)}`;
}

const short = (sql: string): string => (sql.length > 160 ? `${sql.slice(0, 160)}… (${sql.length} chars)` : sql);

describe('SQL fuzzing', () => {
  let code: string;
  let db: NodeDatabase;
  let model: Table[];

  beforeAll(async () => {
    code = (await bundleModule(MODULE)).code;
    db = await openDatabase({ name: 'fuzz', code });
    model = tables();
    const g = new Gen(prng(seed ^ 0x5a5a));
    const [item, link, secret] = model as [Table, Table, Table];
    for (let i = 0; i < 40; i++) {
      const row: Row = { id: i * 3, qty: g.chance(0.3) ? i * 3 : g.int(50), n: 0n, u: 0, big: 0n, name: '', flag: g.chance(0.5) };
      for (const c of item.cols) if (!['id', 'qty', 'flag'].includes(c.name)) row[c.name] = g.value(c.kind, []);
      item.rows.push(row);
      await db.call('add_item', row);
    }
    for (let i = 0; i < 60; i++) {
      const row: Row = { id: i, item_id: g.chance(0.8) ? g.pick(item.rows).id! : 999_999, w: g.value('i32', []) };
      link.rows.push(row);
      await db.call('add_link', row);
    }
    for (let i = 0; i < 5; i++) {
      const row: Row = { id: i, note: `secret ${i}` };
      secret.rows.push(row);
      await db.call('add_secret', row);
    }
  }, 60_000);

  afterAll(async () => {
    await db?.close();
  });

  /** Runs one statement; returns the rows, or the error. */
  async function run(sql: string, sender?: string): Promise<{ rows: Record<string, unknown>[] } | { error: unknown }> {
    try {
      return { rows: (await db.query(sql, sender !== undefined ? { sender } : {})).rows };
    } catch (error) {
      return { error };
    }
  }

  it(
    `${QUERIES} generated and mutated queries: failures are named errors, valid queries match the oracle (seed ${seed})`,
    async () => {
      const g = new Gen(prng(seed));
      const failures: string[] = [];
      const fail = (i: number, what: string, sql: string): void => {
        if (failures.length < 30) failures.push(`#${i} ${what}\n    ${short(sql)}`);
      };
      for (let i = 0; i < QUERIES; i++) {
        const owner = !g.chance(0.1);
        // Only SELECTs are mutated: a mangled DML statement that still runs would change the
        // tables in a way the model cannot follow.
        const dml = g.chance(0.15);
        const mutated = !dml && g.chance(0.35);
        const q = dml ? dmlQuery(g, model) : selectQuery(g, model, owner);
        const sql = mutated ? mutate(g, q.sql) : q.sql;
        figures.add('queries fuzzed');
        const out = await run(sql, owner ? undefined : OTHER);
        if ('error' in out) {
          const why = unnamed(out.error);
          if (why) {
            figures.add('unnamed errors');
            fail(i, `unnamed error: ${why}`, sql);
          } else figures.add('refused with a named error');
          if (!mutated && why === undefined && !(q.ownerOnly && !owner) && !(q as { mustFail?: boolean }).mustFail) {
            fail(i, `a valid query was refused: ${(out.error as Error).message.slice(0, 200)}`, sql);
            figures.add('wrong results');
          }
          continue;
        }
        if (mutated) continue; // garbage that still parses: no oracle, only "no raw error"
        if (q.ownerOnly && !owner) {
          fail(i, 'a non-owner ran DML', sql);
          continue;
        }
        if ((q as { mustFail?: boolean }).mustFail) {
          fail(i, 'an INSERT with a duplicate id succeeded', sql);
          continue;
        }
        q.apply?.();
        if (q.expect) {
          figures.add('checked against the oracle');
          const got = out.rows.map(canonRow).sort();
          const want = q.expect.rows;
          const ok = q.expect.limit === undefined ? got.length === want.length && got.every((r, k) => r === want[k]) : got.length === Math.min(q.expect.limit, want.length) && isSubMultiset(got, want);
          if (!ok) {
            figures.add('wrong results');
            fail(i, `rows differ from the oracle: got ${got.length} [${got.slice(0, 3).join(' | ')}], want ${want.length} [${want.slice(0, 3).join(' | ')}]`, sql);
          }
        }
        // Every so often the whole table against the model (DML effects included).
        if (i % 200 === 0) {
          const all = (await db.sql('SELECT * FROM item')).map(canonRow).sort();
          const want = model[0]!.rows.map(canonRow).sort();
          if (all.join('\n') !== want.join('\n')) fail(i, 'the item table differs from the model', 'SELECT * FROM item');
        }
      }
      figures.zero('unnamed errors');
      figures.zero('wrong results');
      expect(failures, `seed ${seed}: ${failures.length} failures`).toEqual([]);
    },
    size(60_000, 600_000),
  );

  for (const h of hugeInputs()) {
    it(`huge input: ${h.name} is answered correctly or refused with a named error`, async () => {
      figures.add('huge inputs');
      figures.add('queries fuzzed');
      const before = (await db.sql('SELECT * FROM item')).map(canonRow).sort();
      const out = await run(h.sql);
      if ('error' in out) {
        expect(unnamed(out.error), short(h.sql)).toBeUndefined();
        figures.add('refused with a named error');
      } else if (h.valid) {
        expect(out.rows.map(canonRow).sort()).toEqual(h.valid(model));
        figures.add('checked against the oracle');
      }
      // DML that failed changed nothing; DML that matched nothing changed nothing.
      if (/^(UPDATE|INSERT)/.test(h.sql)) expect((await db.sql('SELECT * FROM item')).map(canonRow).sort()).toEqual(before);
    }, 60_000);
  }

  it('the CLI answers huge and out-of-range queries with a message, never a stack trace', async () => {
    const dataDir = tempDir('lightcone-sqlfuzz-cli-');
    const fileDb = await openDatabase({ dataDir, name: 'fuzz', code });
    await fileDb.call('add_item', { id: 1, qty: 1, n: 1n, u: 1, big: 1n, name: 'a', flag: true });
    await fileDb.close();
    // One command-line argument holds at most 128 KiB (Linux), hence the sizes.
    const queries = [
      `SELECT * FROM item WHERE ${'id=0 OR '.repeat(15_000)}id=1`,
      'SELECT * FROM item LIMIT 9223372036854775808',
      `SELECT * FROM item WHERE ${'('.repeat(50_000)}id >= 0${')'.repeat(50_000)}`,
      'SELECT * FROM item ORDER BY id',
      "SELECT * FROM item WHERE name = 'x:12345678901234567}'",
    ];
    for (const q of queries) {
      figures.add('CLI queries');
      const r = await lightcone(['sql', 'fuzz', q, '--data-dir', dataDir]);
      expect(r.stderr, short(q)).not.toMatch(/\n\s+at .+[:(]\d+/);
      if (r.code !== 0) expect(r.stderr.trim().length, short(q)).toBeGreaterThan(0);
    }
  }, 120_000);

  // Long only (registered under `npm run test:crash`): 130,000 rows through the table printer.
  if (LONG) {
    it('lightcone sql prints a 130,000-row result as a table and as JSON', async () => {
      const dataDir = tempDir('lightcone-sqlfuzz-rows-');
      const bank = await openDatabase({ dataDir, name: 'bank', module: BANK_DIR });
      await bank.call('seed', [130_000]);
      await bank.close();
      for (const extra of [[], ['--json']]) {
        figures.add('CLI queries');
        const r = await lightcone(['sql', 'bank', 'SELECT * FROM account', '--data-dir', dataDir, ...extra]);
        expect(r.code, r.stderr.slice(0, 500)).toBe(0);
        expect(r.stdout.split('\n').length).toBeGreaterThan(130_000);
      }
    }, 300_000);
  }
});

function isSubMultiset(small: string[], big: string[]): boolean {
  const counts = new Map<string, number>();
  for (const r of big) counts.set(r, (counts.get(r) ?? 0) + 1);
  for (const r of small) {
    const n = counts.get(r) ?? 0;
    if (n === 0) return false;
    counts.set(r, n - 1);
  }
  return true;
}
