// `lightcone generate` output: the file layout and exports of `spacetime generate --lang
// typescript`, SpacetimeDB's names (wire names, camelCase accessors, deprecated aliases, type
// names), private tables and functions left out, client code written against those bindings
// type-checking under `tsc --strict`, stale files removed, and bad input refused by name.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModuleError, UsageError } from '../errors.ts';
import { ROOT, tempProject } from './fixtures/temp-project.ts';
import { generateBindings } from './generate.ts';
import { codegenModule } from './module-model.ts';
import { generateTypeScript } from './typescript.ts';

const CHAT = join(ROOT, 'examples/chat');
const BANK = join(ROOT, 'examples/bank');
const ALL_TYPES = join(ROOT, 'examples/all-types');
const NAMING = join(ROOT, 'src/generate/fixtures/naming.ts');
const PROTOCOL = join(ROOT, 'src/protocol/fixtures/module.ts');

const project = tempProject();
afterAll(() => project.remove());

/** Generates `modulePath` into `<project>/<folder>` and imports a file of it. */
async function generated(modulePath: string, folder: string, opts: { includePrivate?: boolean } = {}) {
  const r = await generateBindings({ modulePath, outDir: join(project.dir, folder), ...opts });
  // biome-ignore lint/suspicious/noExplicitAny: generated while the test runs; tsc checks its types below
  const load = async (file = 'index.ts'): Promise<any> => import(join(r.outDir, file));
  return { ...r, load };
}

describe('generate: layout and names', () => {
  it('writes the files and exports spacetime generate writes (examples/chat)', async () => {
    const g = await generated(CHAT, 'layout-chat');
    expect([...g.files].sort()).toEqual(['index.ts', 'message_table.ts', 'send_message_reducer.ts', 'set_name_reducer.ts', 'types.ts', 'types/procedures.ts', 'types/reducers.ts', 'user_table.ts']);
    const index = await g.load();
    expect(Object.keys(index).sort()).toEqual(['DbConnection', 'DbConnectionBuilder', 'SubscriptionBuilder', 'procedures', 'reducers', 'tables']);
    expect(Object.keys(index.tables)).toEqual(['message', 'user']);
    // Lifecycle reducers (init, client_connected, client_disconnected) are the database's own.
    expect(Object.entries(index.reducers).map(([k, r]) => [k, (r as { name: string }).name])).toEqual([
      ['sendMessage', 'send_message'],
      ['setName', 'set_name'],
    ]);
    expect(Object.keys(await g.load('types.ts')).sort()).toEqual(['Message', 'User']);
  });

  it('names tables, columns, reducers and views as SpacetimeDB does (wire names, camelCase accessors, aliases)', async () => {
    const g = await generated(NAMING, 'names');
    expect([...g.files].sort()).toEqual([
      'create_hero_1_reducer.ts',
      'found_guild_2_reducer.ts',
      'guild_2_table.ts',
      'guild_stats_procedure.ts',
      'hero_1_table.ts',
      'heroes_at_level_2_table.ts',
      'index.ts',
      'rename_guild_reducer.ts',
      'types.ts',
      'types/procedures.ts',
      'types/reducers.ts',
    ]);
    const { tables, reducers, procedures } = await g.load();
    // Explicit canonical names and snake_case column names are what the SQL on the wire says.
    expect(tables.hero1.where((r: { level2Reached: { eq(v: number): unknown } }) => r.level2Reached.eq(2)).toSql()).toBe('SELECT * FROM "Hero1Canonical" WHERE "Hero1Canonical"."level_2_reached" = 2');
    expect(tables.guild2.where((r: { rankNo: { eq(v: number): unknown } }) => r.rankNo.eq(3)).toSql()).toBe('SELECT * FROM "guild_2" WHERE "guild_2"."rank_no" = 3');
    expect(tables.heroesAtLevel2.toSql()).toBe('SELECT * FROM "Level2Heroes"');
    // Accessors the module wrote in another case stay reachable as deprecated aliases.
    expect(Object.keys(tables)).toEqual(['hero1', 'guild2', 'heroesAtLevel2', 'Hero1', 'Guild2', 'HeroesAtLevel2']);
    expect(tables.Hero1).toBe(tables.hero1);
    expect(Object.values(reducers).map((r) => (r as { name: string }).name)).toEqual(['create_hero_1', 'found_guild_2', 'renameGuild2']);
    expect(Object.keys(reducers)).toEqual(['createHero1', 'foundGuild2', 'renameGuild2']);
    expect(Object.keys(procedures)).toEqual(['guildStats']);
    // Every named type, private tables' rows included; a reducer's parameter type is not one.
    expect(Object.keys(await g.load('types.ts')).sort()).toEqual(['Guild2', 'HeroRow', 'HeroesAtLevel2', 'Mood2Kind', 'Reminder', 'SecretStash', 'Stats3Block']);
    expect(g.privateTables).toEqual(['secret_stash', 'reminder']);
  });

  it('includes private tables and functions when asked, still not lifecycle reducers', async () => {
    const g = await generated(NAMING, 'names-private', { includePrivate: true });
    expect(g.files).toEqual(expect.arrayContaining(['secret_stash_table.ts', 'reminder_table.ts', 'remind_reducer.ts']));
    const { tables, reducers } = await g.load();
    expect(Object.keys(tables)).toEqual(expect.arrayContaining(['secretStash', 'reminder']));
    expect(reducers.remind.name).toBe('remind');

    const chat = await generated(CHAT, 'chat-private', { includePrivate: true });
    expect(chat.files).toContain('client_connected_reducer.ts');
    expect(Object.keys((await chat.load()).reducers)).toEqual(['sendMessage', 'setName']);
  });
});

describe('generate: the bindings type-check', () => {
  it('imports the builder wherever a file uses it, also for a table without columns', () => {
    const def = {
      sections: [
        { tag: 'Typespace', value: { types: [{ tag: 'Product', value: { elements: [] } }] } },
        { tag: 'Types', value: [{ sourceName: { scope: [], sourceName: 'Nothing' }, ty: 0, customOrdering: true }] },
        { tag: 'Tables', value: [{ sourceName: 'nothing', productTypeRef: 0, primaryKey: [], indexes: [], constraints: [], tableAccess: { tag: 'Public' }, isEvent: false }] },
      ],
    };
    const files = generateTypeScript(codegenModule(def), { includePrivate: false, version: '2.10.1' });
    const row = files.find((f) => f.path === 'nothing_table.ts')!;
    expect(row.text).toContain('export default __t.row({});');
    for (const f of files) if (f.text.includes('__t.')) expect(f.text, f.path).toMatch(/import \{[^}]*\bt as __t\b/);
  });

  it('client code written against spacetime generate bindings compiles under tsc --strict (chat, bank, all-types, views, procedures)', async () => {
    for (const [path, folder] of [
      [CHAT, 'tc/chat'],
      [BANK, 'tc/bank'],
      [ALL_TYPES, 'tc/all'],
      [NAMING, 'tc/naming'],
      [PROTOCOL, 'tc/protocol'],
    ] as const) {
      await generateBindings({ modulePath: path, outDir: join(project.dir, folder) });
    }
    const dir = join(project.dir, 'tc');
    writeFileSync(join(dir, 'chat-client.ts'), CHAT_CLIENT);
    writeFileSync(join(dir, 'all-client.ts'), ALL_TYPES_CLIENT);
    writeFileSync(join(dir, 'naming-client.ts'), NAMING_CLIENT);
    // What a Vite or React project generated by SpacetimeDB's templates compiles with.
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2022', 'DOM', 'DOM.Iterable'],
          module: 'ESNext',
          moduleResolution: 'bundler',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          isolatedModules: true,
          moduleDetection: 'force',
          types: [],
        },
        include: ['**/*.ts'],
      }),
    );
    const r = await tsc(dir);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('generate: files on disk', () => {
  it('rewrites only what changed, and deletes generated files the module no longer has while keeping other files', async () => {
    const out = join(project.dir, 'disk');
    await generateBindings({ modulePath: NAMING, outDir: out, includePrivate: true });
    writeFileSync(join(out, 'notes.ts'), '// mine\n');
    writeFileSync(join(out, 'old_table.ts'), '// THIS FILE IS AUTOMATICALLY GENERATED BY SPACETIMEDB. EDITS TO THIS FILE\n');
    mkdirSync(join(out, 'nested'));
    writeFileSync(join(out, 'nested', 'gone_table.ts'), readFileSync(join(out, 'reminder_table.ts')));
    const typesBefore = statSync(join(out, 'types.ts')).mtimeMs;

    const r = await generateBindings({ modulePath: NAMING, outDir: out });
    expect(r.deleted).toEqual(['nested/gone_table.ts', 'old_table.ts', 'remind_reducer.ts', 'reminder_table.ts', 'secret_stash_table.ts']);
    expect(r.written.sort()).toEqual(['index.ts', 'types/reducers.ts']);
    expect(existsSync(join(out, 'notes.ts'))).toBe(true);
    expect(statSync(join(out, 'types.ts')).mtimeMs).toBe(typesBefore);

    const again = await generateBindings({ modulePath: NAMING, outDir: out });
    expect([again.written, again.deleted]).toEqual([[], []]);
  });
});

describe('generate: bad input', () => {
  it('refuses a module path that does not exist, writing nothing', async () => {
    const out = join(project.dir, 'missing');
    const e = await generateBindings({ modulePath: join(project.dir, 'nope.ts'), outDir: out }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ModuleError);
    expect(e).toMatchObject({ code: 'MODULE_NOT_FOUND', message: expect.stringContaining('nope.ts does not exist') });
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a language other than TypeScript, and an output path that is a file', async () => {
    await expect(generateBindings({ modulePath: CHAT, outDir: join(project.dir, 'cs'), lang: 'csharp' })).rejects.toMatchObject({ name: 'UsageError', code: 'UNSUPPORTED_LANGUAGE' });
    const file = join(project.dir, 'a-file');
    writeFileSync(file, '');
    const e = await generateBindings({ modulePath: CHAT, outDir: file }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect(e).toMatchObject({ code: 'BAD_OUT_DIR' });
  });

  it('refuses a module that mounts submodules (their bindings are not written yet)', () => {
    expect(() => codegenModule({ sections: [{ tag: 'Submodules', value: [{ namespace: 'lib', module: { sections: [] } }] }] })).toThrow(
      expect.objectContaining({ name: 'ModuleError', code: 'UNSUPPORTED_MODULE' }),
    );
  });

  it('refuses a type clients cannot express, naming where it is used', () => {
    const def = {
      sections: [
        {
          tag: 'Typespace',
          value: { types: [{ tag: 'Product', value: { elements: [{ name: 'pair', algebraicType: { tag: 'Product', value: { elements: [{ name: 'a', algebraicType: { tag: 'U8' } }] } } }] } }] },
        },
        { tag: 'Types', value: [{ sourceName: { scope: [], sourceName: 'Thing' }, ty: 0, customOrdering: true }] },
      ],
    };
    expect(() => codegenModule(def)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_TYPE', message: expect.stringContaining('pair in type Thing has an unnamed compound type') }));
  });
});

/** Runs the repository's tsc (TypeScript 7) on a project folder. */
function tsc(dir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], { encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

// Client code as a SpacetimeDB user writes it against `spacetime generate` output (imports from
// the folder, the types and the Params/Args/Result types; callbacks; the cache; the query builder).
// Each @ts-expect-error fails the compile if the bindings' types are looser than SpacetimeDB's.
const CHAT_CLIENT = `
import { Identity, Timestamp } from 'spacetimedb';
import { DbConnection, reducers, tables, type ErrorContext, type EventContext, type SubscriptionEventContext } from './chat';
import type * as Types from './chat/types';
import type { SendMessageParams, SetNameParams } from './chat/types/reducers';

export const conn = DbConnection.builder()
  .withUri('ws://localhost:3000')
  .withDatabaseName('quickstart-chat')
  .withToken(undefined)
  .onConnect((c: DbConnection, identity: Identity, token: string) => {
    c.subscriptionBuilder()
      .onApplied((ctx: SubscriptionEventContext) => console.log(ctx.db.message.count(), identity.toHexString(), token))
      .subscribe([tables.message, tables.user.where((r) => r.online.eq(true))]);
  })
  .onConnectError((_ctx: ErrorContext, err: Error) => console.error(err))
  .build();

conn.db.message.onInsert((ctx: EventContext, m: Types.Message) => {
  const sent: Timestamp = m.sent;
  const text: string = m.text;
  console.log(ctx.event.tag, sent.toDate(), text, m.sender.toHexString());
});
conn.db.user.onUpdate((_ctx, old, user) => console.log(old.online, user.online));
const me: Types.User | null = conn.db.user.identity.find(Identity.zero());
const name: string | undefined = me?.name;
const params: SendMessageParams = { text: name ?? 'hello' };
const rename: SetNameParams = { name: 'Ada' };
void conn.reducers.sendMessage(params);
void conn.reducers.setName(rename);
for (const m of conn.db.message.iter()) {
  const id: bigint = m.id;
  console.log(id);
}
export const sendMessage: typeof reducers.sendMessage = reducers.sendMessage;
// @ts-expect-error: send_message takes { text }
void conn.reducers.sendMessage({ txt: 'x' });
// @ts-expect-error: message rows have no body
conn.db.message.onInsert((_ctx, m) => m.body);
// @ts-expect-error: lifecycle reducers cannot be called
void conn.reducers.clientConnected({});
`;

const ALL_TYPES_CLIENT = `
import { ConnectionId, Identity, ScheduleAt, TimeDuration, Timestamp, Uuid } from 'spacetimedb';
import { DbConnection, tables } from './all';
import type { AllTypes, Color, Point, Shape } from './all/types';
import type { InsertAllTypesParams } from './all/types/reducers';

declare const conn: DbConnection;
const color: Color = { tag: 'Green' };
const shape: Shape = { tag: 'Rect', value: { w: 1, h: 2 } };
const point: Point = { x: 1, y: -1 };
export const row: AllTypes = {
  id: 1, flag: true, i8: 1, u8: 1, i16: 1, u16: 1, i32: 1, u32: 1, i64: 1n, u64: 1n, i128: 1n, u128: 1n, i256: 1n, u256: 1n,
  f32: 1, f64: 1, text: '', bytes: new Uint8Array(), tags: [], maybe: undefined, point, shape, color,
  owner: Identity.zero(), conn: ConnectionId.random(), at: Timestamp.now(), duration: TimeDuration.fromMillis(1),
  uuid: Uuid.NIL, schedule: ScheduleAt.interval(1n),
};
const params: InsertAllTypesParams = row;
void conn.reducers.insertAllTypes(params);
const found: AllTypes | null = conn.db.allTypes.id.find(1);
const alias: number = [...conn.db.all_types.iter()].length;
console.log(found, alias, [...conn.db.person.by_city_age.filter(['Oslo', 30])], [...conn.db.tag.owner_id.filter(1)], [...conn.db.person.name.filter('ann')]);
conn.db.notice.onInsert((_ctx, n) => console.log(n.kind));
conn.subscriptionBuilder().subscribe(tables.allTypes.where((r) => r.u8.eq(8)));
// @ts-expect-error: index accessors keep the name the module declared (owner_id)
console.log(conn.db.tag.ownerId);
// @ts-expect-error: u64 columns are bigint
export const wrong: AllTypes = { ...row, u64: 1 };
`;

const NAMING_CLIENT = `
import { DbConnection, tables, procedures } from './naming';
import type { Stats3Block, Mood2Kind } from './naming/types';
import type { GuildStatsArgs, GuildStatsResult } from './naming/types/procedures';
import type { RenameGuildParams } from './naming/types/reducers';
import { DbConnection as ProtocolConnection } from './protocol';

declare const conn: DbConnection;
const args: GuildStatsArgs = { guild2Id: 1n };
conn.procedures.guildStats(args).then((s: GuildStatsResult) => {
  const stats: Stats3Block | undefined = s;
  console.log(stats?.hitPoints1);
});
const rename: RenameGuildParams = { guild2Id: 1n, newName: 'x' };
void conn.reducers.renameGuild2(rename);
const mood: Mood2Kind = { tag: 'Angry', value: 3 };
for (const h of conn.db.heroesAtLevel2.iter()) console.log(h.heroName, h.mood3, mood);
conn.db.heroesAtLevel2.onUpdate((_ctx, a, b) => console.log(a.hero1Id, b.hero1Id));
console.log(conn.db.Hero1.count(), tables.Hero1, procedures.guildStats);

declare const proto: ProtocolConnection;
proto.db.myMessages.onInsert((_ctx, m) => console.log(m.roomId));
void proto.procedures.echo({ text: 'x' }).then((s: string) => s);
// @ts-expect-error: private tables are not in the bindings
console.log(proto.db.settings);
`;
