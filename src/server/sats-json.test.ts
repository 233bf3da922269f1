// SATS-JSON for the HTTP API, over real modules on the real engine: `/sql` bodies carry the untyped
// shapes SpacetimeDB writes (Identity ["0x…"], option [0, x], enums [tag, payload], u128 and u64
// with every digit, i256 "-0x…", bytes as hex), DML reports its stats, `/schema` renders the
// module's own RawModuleDefV10 (and a V9 derived from it), and `/call` bodies are read in every
// accepted form into arguments the engine takes, or refused naming the parameter.
import { stringify } from 'lossless-json';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExactJson } from '../cli/json-arg.ts';
import { memoryDurability, MemoryStore } from '../durability/memory.ts';
import { Engine, randomIdentity } from '../engine/engine.ts';
import { UsageError } from '../errors.ts';
import { bundleModule } from '../host/bundle.ts';
import { readModuleDefinition } from '../generate/read-module.ts';
import { algebraicTypeJson, argsFromSatsJson, procedureReturnJson, schemaJson, sqlHttpResponse, typedJson, untypedJson } from './sats-json.ts';

// biome-ignore lint/suspicious/noExplicitAny: JSON parsed by the tests is read by its shape
type Json = any;

const owner = randomIdentity();
const open = async (path: string) => Engine.open({ name: 'db', durability: memoryDurability(new MemoryStore()), code: (await bundleModule(path)).code, owner });
/** JSON with exact integers: bigints beyond 2^53, numbers below (the reader `/call` uses). */
const parse = (text: string) => parseExactJson(text, 'the test output') as Json;

const ADA = `c200${'12'.repeat(30)}`;
const U64 = (1n << 63n) + 5n;
const U128 = (1n << 127n) + 9n;
const I256 = -(1n << 200n) - 11n;
const U256 = (1n << 255n) + 13n;
const CONN = (1n << 100n) + 1n;
const UUID = 0x0190a9b27c1e70008000000000000001n;

/** The arguments of insert_all_types (one per column) as the engine's own API takes them. */
const row = (id: number, over: Record<string, unknown> = {}) => ({
  id,
  flag: true,
  i8: -8,
  u8: 200,
  i16: -300,
  u16: 60000,
  i32: -2_000_000_000,
  u32: 4_000_000_000,
  i64: -(1n << 62n) - 3n,
  u64: U64,
  i128: -(1n << 100n) + 7n,
  u128: U128,
  i256: I256,
  u256: U256,
  f32: 0.1,
  f64: 2.25,
  text: 'hé "q"',
  bytes: '0xdeadbeef',
  tags: ['a', 'b'],
  maybe: 7,
  point: { x: 1, y: -1 },
  shape: { Rect: { w: 3, h: 4 } },
  color: 'Blue',
  owner: ADA,
  conn: CONN,
  at: 1_735_787_045_678_000n,
  duration: 1_500_000n,
  uuid: UUID,
  schedule: { Interval: 60_000_000n },
  ...over,
});

/** That row as untyped SATS-JSON, parsed exactly. */
const untypedRow = (id: number) => [
  id,
  true,
  -8,
  200,
  -300,
  60000,
  -2_000_000_000,
  4_000_000_000,
  -(1n << 62n) - 3n,
  U64,
  -(1n << 100n) + 7n,
  U128,
  `-0x${(-I256).toString(16)}`,
  `0x${U256.toString(16)}`,
  0.1,
  2.25,
  'hé "q"',
  'deadbeef',
  ['a', 'b'],
  [0, 7],
  [1, -1],
  [1, [3, 4]],
  [2, []],
  [`0x${ADA}`],
  [CONN],
  [1_735_787_045_678_000],
  [1_500_000],
  [UUID],
  [0, [60_000_000]],
];

describe('SATS-JSON over all-types', () => {
  let e: Engine;
  beforeAll(async () => {
    e = await open('examples/all-types');
  });
  afterAll(() => e.close());

  const params = (name: string) => e.host.schema.reducers.find((r) => r.name === name)!.params;
  const ts = () => e.host.schema.typespace;
  const sqlJson = async (q: string) => parse(sqlHttpResponse([await e.sql(q)], 42));

  it('/sql rows are untyped SATS-JSON with exact digits; the schema has each column type, Refs resolved', async () => {
    await e.call('insert_all_types', row(1));
    // As it arrives from the engine thread: structured-cloned (Identity and the like lose their class).
    const text = sqlHttpResponse([structuredClone(await e.sql('SELECT * FROM all_types WHERE id = 1'))], 42);
    expect(sqlHttpResponse([await e.sql('SELECT * FROM all_types WHERE id = 1')], 42)).toBe(text);
    // Digits beyond 2^53 are written out, never rounded through a double.
    expect(text).toContain(`,${U64},`);
    expect(text).toContain(`,${U128},`);
    expect(text).toContain(`[${CONN}]`);
    expect(text).toContain(`,"-0x${(-I256).toString(16)}",`);
    expect(text).toContain(',0.1,'); // the f32 as its shortest text, not 0.10000000149011612
    const [res] = parse(text);
    expect(res.rows).toStrictEqual([untypedRow(1)]);
    expect(res.total_duration_micros).toBe(42);
    expect(res.stats).toStrictEqual({ rows_inserted: 0, rows_deleted: 0, rows_updated: 0 });
    const col = (name: string) => res.schema.elements.find((x: Json) => x.name.some === name).algebraic_type;
    expect(res.schema.elements).toHaveLength(29);
    expect(res.schema.elements[0]).toStrictEqual({ name: { some: 'id' }, algebraic_type: { U32: [] } });
    expect(col('bytes')).toStrictEqual({ Array: { U8: [] } });
    expect(col('owner')).toStrictEqual({ Product: { elements: [{ name: { some: '__identity__' }, algebraic_type: { U256: [] } }] } });
    expect(col('maybe')).toStrictEqual({
      Sum: {
        variants: [
          { name: { some: 'some' }, algebraic_type: { U32: [] } },
          { name: { some: 'none' }, algebraic_type: { Product: { elements: [] } } },
        ],
      },
    });
    // Point is a Ref in the module's typespace; /sql gives the type itself.
    expect(col('point')).toStrictEqual({
      Product: {
        elements: [
          { name: { some: 'x' }, algebraic_type: { I32: [] } },
          { name: { some: 'y' }, algebraic_type: { I32: [] } },
        ],
      },
    });
    expect(col('shape').Sum.variants[1]).toStrictEqual({
      name: { some: 'Rect' },
      algebraic_type: {
        Product: {
          elements: [
            { name: { some: 'w' }, algebraic_type: { U32: [] } },
            { name: { some: 'h' }, algebraic_type: { U32: [] } },
          ],
        },
      },
    });
  });

  it('none, unit variants, projections and count(*) have their SATS shapes', async () => {
    await e.call('insert_all_types', row(2, { maybe: null, shape: 'Empty', color: 'Red' }));
    const [res] = await sqlJson('SELECT maybe, shape, color FROM all_types WHERE id = 2');
    expect(res.rows).toStrictEqual([
      [
        [1, []],
        [2, []],
        [0, []],
      ],
    ]);
    expect(res.schema.elements.map((x: Json) => x.name.some)).toEqual(['maybe', 'shape', 'color']);
    const [count] = await sqlJson('SELECT COUNT(*) AS n FROM all_types');
    expect(count.schema.elements).toStrictEqual([{ name: { some: 'n' }, algebraic_type: { U64: [] } }]);
    expect(count.rows).toStrictEqual([[2]]);
  });

  it('DML gives an empty schema, no rows and its stats', async () => {
    const [ins] = await sqlJson("INSERT INTO person (id, name, age, city, email, level) VALUES (1, 'a', 30, 'x', 'a@x', 1), (2, 'b', 40, 'y', 'b@y', 2)");
    expect(ins).toStrictEqual({ schema: { elements: [] }, rows: [], total_duration_micros: 42, stats: { rows_inserted: 2, rows_deleted: 0, rows_updated: 0 } });
    const [upd] = await sqlJson('UPDATE person SET age = 31 WHERE id = 1');
    expect(upd.stats).toStrictEqual({ rows_inserted: 0, rows_deleted: 0, rows_updated: 1 });
    const [del] = await sqlJson('DELETE FROM person');
    expect(del.stats).toStrictEqual({ rows_inserted: 0, rows_deleted: 2, rows_updated: 0 });
    // Several statements, one element each.
    const both = parse(sqlHttpResponse([await e.sql('SELECT id FROM person'), await e.sql('DELETE FROM person')], 7));
    expect(both.map((r: Json) => r.schema.elements.length)).toEqual([1, 0]);
  });

  it('a /sql row read back as /call arguments (array form) stores the same row', async () => {
    await e.call('insert_all_types', row(3));
    const table = e.host.schema.tables.find((t) => t.name === 'all_types')!;
    const stored = (await e.sql('SELECT * FROM all_types WHERE id = 3')).rows[0]!;
    const byField = Object.fromEntries(table.columns.map((c) => [c.name, stored[c.canonicalName]]));
    const body = untypedJson({ ...byField, id: 4 }, { tag: 'Product', value: table.rowType }, ts());
    expect(parse(body)).toStrictEqual(untypedRow(4));
    const args = argsFromSatsJson(body, params('insert_all_types'), ts(), 'reducer insert_all_types');
    expect(structuredClone(args)).toStrictEqual(args); // survives the trip to the engine thread
    await e.call('insert_all_types', args);
    const [back] = await sqlJson('SELECT * FROM all_types WHERE id = 4');
    expect(back.rows).toStrictEqual([untypedRow(4)]);
  });

  it('the object form (typed SATS-JSON, keyed by parameter name) stores the same row', async () => {
    const table = e.host.schema.tables.find((t) => t.name === 'all_types')!;
    const stored = (await e.sql('SELECT * FROM all_types WHERE id = 1')).rows[0]!;
    const byField = Object.fromEntries(table.columns.map((c) => [c.name, stored[c.canonicalName]]));
    const text = typedJson({ ...byField, id: 5 }, { tag: 'Product', value: params('insert_all_types') }, ts());
    const obj = parse(text);
    expect(obj.owner).toStrictEqual({ __identity__: `0x${ADA}` });
    expect(obj.maybe).toStrictEqual({ some: 7 });
    expect(obj.shape).toStrictEqual({ Rect: { w: 3, h: 4 } });
    expect(obj.color).toStrictEqual({ Blue: [] });
    await e.call('insert_all_types', argsFromSatsJson(text, params('insert_all_types'), ts()));
    const [back] = await sqlJson('SELECT * FROM all_types WHERE id = 5');
    expect(back.rows).toStrictEqual([untypedRow(5)]);
  });

  it('options, sums and identities are read in each accepted form', async () => {
    const forms: [Record<string, unknown>, unknown][] = [
      [{ maybe: { some: 5 } }, [0, 5]],
      [{ maybe: [0, 5] }, [0, 5]],
      [{ maybe: 5 }, [0, 5]],
      [{ maybe: { none: [] } }, [1, []]],
      [{ maybe: [1, []] }, [1, []]],
      [{ maybe: null }, [1, []]],
      [{ shape: { Circle: 0.5 } }, [0, 0.5]],
      [{ shape: [0, 0.5] }, [0, 0.5]],
      [{ shape: ['Circle', 0.5] }, [0, 0.5]],
      [{ shape: [1, [3, 4]] }, [1, [3, 4]]],
      [{ shape: { Rect: [3, 4] } }, [1, [3, 4]]],
      [{ color: { Green: [] } }, [1, []]],
      [{ color: [1, []] }, [1, []]],
      [{ color: 'Green' }, [1, []]],
      [{ owner: [`0x${ADA}`] }, [`0x${ADA}`]],
      [{ owner: `0x${ADA}` }, [`0x${ADA}`]],
      [{ owner: ADA }, [`0x${ADA}`]],
      [{ owner: { __identity__: `0x${ADA}` } }, [`0x${ADA}`]],
      [{ conn: [CONN] }, [CONN]],
      [{ at: [1_000_000] }, [1_000_000]],
      [{ at: '1970-01-01T00:00:01Z' }, [1_000_000]],
      [{ duration: { __time_duration_micros__: 7 } }, [7]],
      [{ u256: 5 }, '0x5'],
      [{ u256: '0xff' }, '0xff'],
      [{ i256: '-0x10' }, '-0x10'],
      [{ bytes: 'ABcd' }, 'abcd'],
      [{ bytes: [1, 255] }, '01ff'],
      [{ point: [7, 8] }, [7, 8]],
      [{ schedule: [1, [9]] }, [1, [9]]],
    ];
    const table = e.host.schema.tables.find((t) => t.name === 'all_types')!;
    let id = 100;
    for (const [over, expected] of forms) {
      id++;
      const field = Object.keys(over)[0]!;
      const body = stringify(Object.values(row(id, over)))!;
      await e.call('insert_all_types', argsFromSatsJson(body, params('insert_all_types'), ts()));
      const col = table.columns.find((c) => c.name === field)!.canonicalName;
      const [res] = await sqlJson(`SELECT ${col} FROM all_types WHERE id = ${id}`);
      expect(res.rows, `${stringify(over[field])} for ${field}`).toStrictEqual([[expected]]);
    }
  });

  it('a body that does not fit is a BAD_ARGUMENT UsageError naming the parameter and the type', () => {
    const p = params('insert_all_types');
    const bad = (body: string) => {
      try {
        argsFromSatsJson(body, p, ts(), 'reducer insert_all_types');
      } catch (err) {
        expect(err).toBeInstanceOf(UsageError);
        expect((err as UsageError).code).toBe('BAD_ARGUMENT');
        return (err as Error).message;
      }
      throw new Error(`accepted: ${body}`);
    };
    const args = (over: Record<string, unknown>) => stringify(row(1, over))!;
    expect(bad(args({ u8: 'x' }))).toMatch(/argument u8: expected u8, got "x"/);
    expect(bad(args({ u8: 256 }))).toMatch(/argument u8: expected u8.*out of range/);
    expect(bad(args({ owner: [1, 2] }))).toMatch(/argument owner: expected Identity/);
    expect(bad(args({ shape: { Square: 1 } }))).toMatch(/argument shape: expected enum.*Circle, Rect, Empty/);
    expect(bad(args({ point: [1] }))).toMatch(/argument point: expected \{ x: i32, y: i32 \}/);
    expect(bad(args({ point: { x: 1, y: 2, z: 3 } }))).toMatch(/argument point has no field z/);
    const { text: _, ...noText } = row(1);
    expect(bad(stringify(noText)!)).toMatch(/missing argument text \(expected string\)/);
    expect(bad(stringify({ ...noText, text: 't', txt: 'u' })!)).toMatch(/has no parameter txt/);
    expect(bad('[1, true]')).toMatch(/takes 29 arguments \(id: u32, flag: bool, .*\), got 2/);
    expect(bad('"x"')).toMatch(/send a JSON array/);
    expect(bad('{"id": 1,')).toMatch(/not JSON/);
  });

  it('an empty body is no arguments', async () => {
    expect(argsFromSatsJson('', params('sum_ages'), ts())).toStrictEqual({});
    expect(argsFromSatsJson(' [] ', params('sum_ages'), ts())).toStrictEqual({});
  });

  it('schema v10 is the module own RawModuleDefV10, from the describe bytes or the def value', async () => {
    const text = schemaJson(e.host.describe, 10);
    const v10 = JSON.parse(text);
    const sections = Object.fromEntries(v10.sections.map((s: object) => Object.entries(s)[0]!));
    expect(Object.keys(sections)).toEqual(expect.arrayContaining(['Typespace', 'Types', 'Tables', 'Reducers', 'LifeCycleReducers', 'CaseConversionPolicy']));
    expect(sections.Typespace.types).toHaveLength(e.host.schema.typespace.types.length);
    expect(sections.Tables.map((t: Json) => t.source_name)).toEqual(e.host.schema.tables.map((t) => t.name));
    expect(sections.Reducers.map((r: Json) => r.source_name)).toEqual(e.host.schema.reducers.map((r) => r.name));
    expect(sections.Tables[0]).toMatchObject({
      source_name: 'all_types',
      product_type_ref: 0,
      primary_key: [0],
      indexes: [{ source_name: { some: 'all_types_id_idx_btree' }, accessor_name: { some: 'id' }, algorithm: { BTree: [0] } }],
      constraints: [{ source_name: { none: [] }, data: { Unique: { columns: [0] } } }],
      table_type: { User: [] },
      table_access: { Public: [] },
      default_values: [],
      is_event: false,
    });
    expect(sections.Types.find((t: Json) => t.source_name.source_name === 'Point')).toStrictEqual({ source_name: { scope: [], source_name: 'Point' }, ty: 1, custom_ordering: true });
    expect(sections.Typespace.types[1]).toStrictEqual({
      Product: {
        elements: [
          { name: { some: 'x' }, algebraic_type: { I32: [] } },
          { name: { some: 'y' }, algebraic_type: { I32: [] } },
        ],
      },
    });
    expect(sections.CaseConversionPolicy).toStrictEqual({ SnakeCase: [] });
    const { def } = await readModuleDefinition('examples/all-types');
    expect(schemaJson(def, 10)).toBe(text);
  });

  it('schema v9 has the V9 keys, tables and reducers by canonical name', () => {
    const v9 = JSON.parse(schemaJson(e.host.describe, 9));
    expect(Object.keys(v9).sort()).toEqual(['misc_exports', 'reducers', 'row_level_security', 'tables', 'types', 'typespace']);
    expect(v9.typespace.types).toHaveLength(e.host.schema.typespace.types.length);
    expect(v9.tables.map((t: Json) => t.name)).toEqual(e.host.schema.tables.map((t) => t.canonicalName));
    expect(v9.tables[0]).toStrictEqual({
      name: 'all_types',
      product_type_ref: 0,
      primary_key: [0],
      indexes: [{ name: { some: 'all_types_id_idx_btree' }, accessor_name: { some: 'id' }, algorithm: { BTree: [0] } }],
      constraints: [{ name: { none: [] }, data: { Unique: { columns: [0] } } }],
      sequences: [],
      schedule: { none: [] },
      table_type: { User: [] },
      table_access: { Public: [] },
    });
    expect(v9.reducers.find((r: Json) => r.name === 'sum_ages')).toStrictEqual({ name: 'sum_ages', params: { elements: [] }, lifecycle: { none: [] } });
    expect(v9.types.find((t: Json) => t.name.name === 'Point')).toStrictEqual({ name: { scope: [], name: 'Point' }, ty: 1, custom_ordering: true });
    expect(v9.misc_exports).toEqual([]);
    expect(v9.row_level_security).toEqual([]);
    expect(() => schemaJson(e.host.describe, 8 as 9)).toThrow(UsageError);
  });
});

describe('SATS-JSON over chat, schedules and procedures', () => {
  it('chat: an Identity key and an optional name; lifecycle reducers in v9', async () => {
    const e = await open('examples/chat');
    try {
      await e.call('set_name', argsFromSatsJson('{"name": "Ada"}', e.host.reducer('set_name')!.params, e.host.schema.typespace), { sender: ADA });
      const [res] = parse(sqlHttpResponse([await e.sql('SELECT * FROM user')], 1));
      expect(res.rows).toStrictEqual([[[`0x${ADA}`], [0, 'Ada'], false]]);
      const v9 = JSON.parse(schemaJson(e.host.describe, 9));
      const life = Object.fromEntries(v9.reducers.map((r: Json) => [r.name, r.lifecycle]));
      expect(life).toStrictEqual({
        set_name: { none: [] },
        send_message: { none: [] },
        init: { some: { Init: [] } },
        client_connected: { some: { OnConnect: [] } },
        client_disconnected: { some: { OnDisconnect: [] } },
      });
      expect(v9.tables.map((t: Json) => t.table_access)).toStrictEqual([{ Public: [] }, { Public: [] }]);
      expect(v9.tables[1].sequences).toStrictEqual([{ name: { none: [] }, column: 0, start: { none: [] }, min_value: { none: [] }, max_value: { none: [] }, increment: 1 }]);
    } finally {
      await e.close();
    }
  });

  it('schedules: a scheduled table has its schedule in v9; a private table is Private', async () => {
    const e = await open('test/fixtures/schedules.ts');
    try {
      const v9 = JSON.parse(schemaJson(e.host.describe, 9));
      const tick = v9.tables.find((t: Json) => t.name === 'tick');
      expect(tick.schedule).toStrictEqual({ some: { name: expect.any(Object), reducer_name: 'on_tick', scheduled_at_column: 1 } });
      expect(tick.table_access).toStrictEqual({ Private: [] });
    } finally {
      await e.close();
    }
  });

  it('a procedure return value and its listing in v9 misc_exports', async () => {
    const e = await open('test/fixtures/procedures.ts');
    try {
      const proc = e.host.procedure('count_hits')!;
      expect(procedureReturnJson(await e.call('count_hits', argsFromSatsJson('[]', proc.params, e.host.schema.typespace)), proc.returnType, e.host.schema.typespace)).toBe('0');
      const unit = e.host.procedure('tx_then_throw')!;
      expect(procedureReturnJson({}, unit.returnType, e.host.schema.typespace)).toBe('[]');
      const v9 = JSON.parse(schemaJson(e.host.describe, 9));
      expect(v9.misc_exports.find((m: Json) => m.Procedure?.name === 'count_hits')).toStrictEqual({ Procedure: { name: 'count_hits', params: { elements: [] }, return_type: { U64: [] } } });
    } finally {
      await e.close();
    }
  });

  it('values as the package decodes them and after structured clone write the same', () => {
    const ty = {
      tag: 'Sum',
      value: {
        variants: [
          { name: 'ok', algebraicType: { tag: 'U64' } },
          { name: 'err', algebraicType: { tag: 'String' } },
        ],
      },
    } as const;
    const ts = { types: [] };
    expect(untypedJson({ ok: 1n << 60n }, ty as never, ts)).toBe(`[0,${1n << 60n}]`);
    expect(untypedJson({ err: 'no' }, ty as never, ts)).toBe('[1,"no"]');
    expect(typedJson({ err: 'no' }, ty as never, ts)).toBe('{"err":"no"}');
    expect(untypedJson(Number.NaN, { tag: 'F64' }, ts)).toBe('null');
    expect(untypedJson(new Uint8Array([0, 15, 255]), { tag: 'Array', value: { tag: 'U8' } }, ts)).toBe('"000fff"');
    expect(untypedJson(0n, { tag: 'U256' }, ts)).toBe('"0x0"');
    expect(algebraicTypeJson({ tag: 'Array', value: { tag: 'Ref', value: 3 } })).toBe('{"Array":{"Ref":3}}');
  });
});
