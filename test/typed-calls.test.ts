// Typed calls and rows (src/api/typed.ts): a database given its module's type knows the module's
// reducers, procedures and tables. The type assertions are checked by `npm run typecheck` (this
// file is in tsconfig's `include`); the runtime halves check that the types say what the engine
// really does (canonical names, row keys, procedure results).
import { Identity } from 'spacetimedb';
import { afterAll, beforeAll, describe, expect, expectTypeOf, test } from 'vitest';
import type * as Chat from '../examples/chat/index.ts';
import { connect, type BrowserDatabase, type LightconeModule } from '../src/index.ts';
import type { Database, RowOf, SnakeCase, TableName } from '../src/api/database.ts';
import { snakeCase } from '../src/host/module-def.ts';
import { openDatabase, type NodeDatabase } from '../src/node/index.ts';
import type * as Typed from './fixtures/typed-module.ts';

type T = typeof Typed;

/** Names and their snake_case, as the engine converts them (checked at runtime and in the types below). */
const NAMES = [
  ['sendMessage', 'send_message'],
  ['send_message', 'send_message'],
  ['HTTPServer', 'http_server'],
  ['oneU8', 'one_u_8'],
  ['u8Value', 'u_8_value'],
  ['already_snake', 'already_snake'],
  ['ABC', 'abc'],
  ['x', 'x'],
  ['myID', 'my_id'],
  ['kebab-case', 'kebab_case'],
] as const;

test('SnakeCase is the engine snakeCase', () => {
  for (const [from, to] of NAMES) expect(snakeCase(from)).toBe(to);
  expectTypeOf<SnakeCase<'sendMessage'>>().toEqualTypeOf<'send_message'>();
  expectTypeOf<SnakeCase<'send_message'>>().toEqualTypeOf<'send_message'>();
  expectTypeOf<SnakeCase<'HTTPServer'>>().toEqualTypeOf<'http_server'>();
  expectTypeOf<SnakeCase<'oneU8'>>().toEqualTypeOf<'one_u_8'>();
  expectTypeOf<SnakeCase<'u8Value'>>().toEqualTypeOf<'u_8_value'>();
  expectTypeOf<SnakeCase<'already_snake'>>().toEqualTypeOf<'already_snake'>();
  expectTypeOf<SnakeCase<'ABC'>>().toEqualTypeOf<'abc'>();
  expectTypeOf<SnakeCase<'x'>>().toEqualTypeOf<'x'>();
  expectTypeOf<SnakeCase<'myID'>>().toEqualTypeOf<'my_id'>();
  expectTypeOf<SnakeCase<'kebab-case'>>().toEqualTypeOf<'kebab_case'>();
});

describe('a database typed by its module (Node, openDatabase<M>)', () => {
  let db: NodeDatabase<T>;
  beforeAll(async () => {
    db = await openDatabase<T>({ name: 'typed', module: 'test/fixtures/typed-module.ts' });
  });
  afterAll(async () => {
    await db?.close();
  });

  test('reducers by export name or canonical name, with their argument objects', async () => {
    await db.call('postMessage', { bodyText: 'first' });
    await db.call('post_message', { bodyText: 'second', replyTo: 1n });
    await db.call('bump');
    await db.call('bump', {});
    // @ts-expect-error a misspelt reducer name is a type error (and the engine refuses it too)
    await expect(db.call('post_mesage', { bodyText: 'x' })).rejects.toThrow(/post_mesage/);
    // @ts-expect-error a wrong argument type is a type error (and the engine refuses it too)
    await expect(db.call('postMessage', { bodyText: 5 })).rejects.toThrow(/bodyText|body_text/);
    // @ts-expect-error a missing argument is a type error (and the engine refuses it too)
    await expect(db.call('postMessage', {})).rejects.toThrow(/bodyText|body_text/);
  });

  test('a procedure resolves with its typed result', async () => {
    const n = await db.call('countMessages', { atLeast: 1 });
    expectTypeOf(n).toEqualTypeOf<bigint>();
    expect(n).toBe(2n);
    const reducerResult = await db.call('bump');
    expectTypeOf(reducerResult).toEqualTypeOf<undefined>();
    expect(reducerResult).toBeUndefined();
  });

  test('rows of SELECT * FROM <table> are the table rows, keyed by canonical column names', async () => {
    const rows = await db.sql('SELECT * FROM chat_message WHERE id = 2');
    expectTypeOf(rows).toEqualTypeOf<RowOf<T, 'chat_message'>[]>();
    const expected: RowOf<T, 'chat_message'> = { id: 2n, sent_by: db.owner, body_text: 'second', reply_to: 1n };
    expect(rows).toEqual([expected]);
    const counter = await db.sql('select * from counter');
    expectTypeOf(counter[0]!.value).toEqualTypeOf<bigint>();
    expect(counter).toEqual([{ id: 0, value: 3n }]); // bumped twice, then once more above
    const q = await db.query('SELECT * FROM chat_message');
    expectTypeOf(q.rows).toEqualTypeOf<RowOf<T, 'chat_message'>[]>();
    // Any other query: untyped rows.
    const other = await db.sql('SELECT id FROM chat_message');
    expectTypeOf(other).toEqualTypeOf<Record<string, unknown>[]>();
    expect(other.map((r) => r.id)).toEqual([1n, 2n]);
  });

  test('subscriptions: initial rows by table, updates narrowed by table', async () => {
    const seen: string[] = [];
    const sub = db.subscribe(['SELECT * FROM chat_message', 'SELECT * FROM counter'], {
      onApplied(initial) {
        for (const m of initial.chat_message ?? []) seen.push(`initial ${m.body_text}`);
        expectTypeOf(initial.counter).toEqualTypeOf<RowOf<T, 'counter'>[] | undefined>();
        // @ts-expect-error not a table of the module
        void initial.chatMessage;
      },
      onUpdate(update) {
        for (const u of update) {
          if (u.table === 'chat_message') for (const m of u.inserts) seen.push(`insert ${m.body_text} by ${m.sent_by.toHexString().slice(0, 4)}`);
          // @ts-expect-error a counter row has no body_text
          else for (const c of u.inserts) seen.push(String(c.body_text));
        }
      },
    });
    await sub.applied;
    await db.call('postMessage', { bodyText: 'third' });
    sub.unsubscribe();
    expect(seen).toEqual(['initial first', 'initial second', `insert third by ${db.owner.toHexString().slice(0, 4)}`]);
  });

  test('table names are the canonical ones; views and HTTP handlers are not callable', () => {
    expectTypeOf<TableName<T>>().toEqualTypeOf<'chat_message' | 'counter'>();
    const typeOnly = (d: Database<T>) => {
      // @ts-expect-error a view is read with SQL, not called
      void d.call('myMessages');
      // @ts-expect-error an HTTP handler is reached with fetch, not called
      void d.call('hello');
      // @ts-expect-error the lifecycle hooks are reducers, but a name outside the module is not
      void d.call('initialize');
      // A submodule's namespaced function is allowed, untyped.
      void d.call('lib.lib_insert', { value: 'x' });
    };
    expect(typeof typeOnly).toBe('function');
  });
});

test('the browser: connect<M> types the database; without M it stays untyped', () => {
  // Type-level only (connect needs a browser): checked by `npm run typecheck`.
  const typeOnly = async (chat: LightconeModule) => {
    const db = await connect<typeof Chat>({ name: 'chat', module: chat });
    expectTypeOf(db).toEqualTypeOf<BrowserDatabase<typeof Chat>>();
    await db.call('send_message', { text: 'hello' });
    await db.call('set_name', { name: 'Ada' });
    // @ts-expect-error the misspelt reducer of the issue
    await db.call('send_mesage', { text: 'hello' });
    // @ts-expect-error the argument object is checked
    await db.call('send_message', { txt: 'hello' });
    // @ts-expect-error the arguments are required
    await db.call('send_message');
    db.subscribe(['SELECT * FROM message'], {
      onApplied: (initial) => {
        for (const m of initial.message ?? []) {
          expectTypeOf(m.sender).toEqualTypeOf<Identity>();
          expectTypeOf(m.text).toEqualTypeOf<string>();
        }
        for (const u of initial.user ?? []) expectTypeOf(u.name).toEqualTypeOf<string | undefined>();
      },
    });
    const [row] = await db.sql('SELECT * FROM user');
    expectTypeOf(row!.online).toEqualTypeOf<boolean>();

    // Untyped: any name, any arguments, untyped rows (as before).
    const loose = await connect({ name: 'chat', module: chat });
    expectTypeOf(loose).toEqualTypeOf<BrowserDatabase>();
    await loose.call('anything', [1, 2, 3]);
    expectTypeOf(await loose.sql('SELECT * FROM user')).toEqualTypeOf<Record<string, unknown>[]>();
    // A typed database is still a Database.
    const plain: Database = db as unknown as Database;
    return plain;
  };
  // What the plugin's `?lightcone` import gives is the untyped module, which connect<M> accepts.
  expectTypeOf<typeof import('../examples/chat/index.ts?lightcone').default>().toMatchTypeOf<LightconeModule<typeof Chat>>();
  expect(typeof typeOnly).toBe('function');
  expect(new Identity(0n).toHexString()).toHaveLength(64);
});
