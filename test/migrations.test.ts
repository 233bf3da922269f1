// Automatic migrations on re-publish, with SpacetimeDB's rules: allowed changes are applied
// atomically (columns back-filled with their default, init not re-run), forbidden ones are
// refused naming each change and leave data and module in place, and a failure while switching
// leaves the database fully old.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryDurability, MemoryStore } from '../src/durability/memory.ts';
import { Engine, randomIdentity } from '../src/engine/engine.ts';
import { ModuleError } from '../src/errors.ts';
import { bundleModule } from '../src/host/bundle.ts';
import { openDatabase } from '../src/node/open-database.ts';
import { lightcone } from './helpers/cli.ts';

const dir = 'test/fixtures/migrate';
const fresh = () => mkdtempSync(join(tmpdir(), 'lc-migrate-'));

async function seeded(dataDir: string) {
  const db = await openDatabase({ dataDir, name: 'm', module: `${dir}/v1.ts` });
  await db.call('add', ['ada', 10]);
  await db.call('add', ['bob', 20]);
  await db.close();
}

describe('migrations', () => {
  it('republishing the same module is a no-op; new code with the same schema replaces the reducers', async () => {
    const dataDir = fresh();
    await seeded(dataDir);
    const same = await openDatabase({ dataDir, name: 'm', module: `${dir}/v1.ts` });
    expect(same.published).toBe('unchanged');
    await same.close();
    const db = await openDatabase({ dataDir, name: 'm', module: `${dir}/v1-new-code.ts` });
    expect(db.published).toBe('updated');
    await db.call('add', ['cy', 5]);
    expect((await db.sql("SELECT score FROM person WHERE name = 'cy'"))[0]!.score).toBe(10);
    await db.close();
    const again = await openDatabase({ dataDir, name: 'm' });
    await again.call('add', ['dee', 1]);
    expect((await again.sql("SELECT score FROM person WHERE name = 'dee'"))[0]!.score).toBe(2);
    await again.close();
  });

  it('applies allowed changes: appended columns get their default, new tables and indexes, unique removed; init does not re-run', async () => {
    const dataDir = fresh();
    await seeded(dataDir);
    const db = await openDatabase({ dataDir, name: 'm', module: `${dir}/v2.ts` });
    expect(db.published).toBe('updated');
    const rows = await db.sql('SELECT * FROM person');
    expect(rows).toEqual([
      { id: 1n, name: 'ada', score: 10, level: 7, nick: undefined },
      { id: 2n, name: 'bob', score: 20, level: 7, nick: undefined },
    ]);
    // unique on name was removed: a duplicate name is now allowed; ids continue after 2
    await db.call('add', ['ada', 30]);
    expect((await db.sql("SELECT id FROM person WHERE name = 'ada'")).map((r) => r.id)).toEqual([1n, 3n]);
    // the new table works, the new index serves a WHERE, the appended column can be filtered on
    await db.call('adopt', [1n, 'rex']);
    expect(await db.sql('SELECT name FROM pet WHERE owner = 1')).toEqual([{ name: 'rex' }]);
    expect((await db.sql('SELECT name FROM person WHERE level = 7')).length).toBe(2);
    expect(await db.sql('SELECT * FROM note')).toEqual([{ text: 'init ran' }]);
    await db.close();
    // and it all survives a restart
    const db2 = await openDatabase({ dataDir, name: 'm' });
    expect((await db2.sql('SELECT * FROM person')).length).toBe(3);
    const described = await db2.describe();
    expect(described.tables.map((t) => t.name)).toEqual(['person', 'note', 'pet']);
    // describe shows the defaults of the appended columns (and no default elsewhere)
    expect(described.tables[0]!.columns).toEqual([
      { name: 'id', type: 'u64' },
      { name: 'name', type: 'string' },
      { name: 'score', type: 'u32' },
      { name: 'level', type: 'u32', default: '7' },
      { name: 'nick', type: 'Option<string>', default: '(none)' },
    ]);
    await db2.close();
  });

  it('lightcone describe prints the default of a column', async () => {
    const dataDir = fresh();
    await seeded(dataDir);
    await (await openDatabase({ dataDir, name: 'm', module: `${dir}/v2.ts` })).close();
    const r = await lightcone(['describe', 'm', '--data-dir', dataDir]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('    level: u32 (default 7)\n');
    expect(r.stdout).toContain('    nick: Option<string> (default (none))\n');
    expect(r.stdout).toContain('    score: u32\n');
  });

  it('refuses forbidden changes, naming each, and leaves data and module in place', async () => {
    const dataDir = fresh();
    await seeded(dataDir);
    const err = await openDatabase({ dataDir, name: 'm', module: `${dir}/v2-refused.ts` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModuleError);
    const msg = (err as Error).message;
    expect((err as ModuleError).code).toBe('MIGRATION_REFUSED');
    expect(msg).toContain('table note was removed');
    expect(msg).toContain('person.score changed type from u32 to u64');
    expect(msg).toContain('person.email was added without a default');
    expect(msg).toContain('unique constraint was added on person(email)');
    const err2 = await openDatabase({ dataDir, name: 'm', module: `${dir}/v2-reordered.ts` }).catch((e: unknown) => e);
    expect((err2 as Error).message).toContain('changed from name to score');
    expect((err2 as Error).message).toContain('table note changed to an event table');
    const db = await openDatabase({ dataDir, name: 'm' });
    expect((await db.sql('SELECT name FROM person')).map((r) => r.name)).toEqual(['ada', 'bob']);
    await db.call('add', ['cy', 1]); // still the v1 module
    await db.close();
  });

  it('publish with deleteData resets the data and runs init again', async () => {
    const dataDir = fresh();
    await seeded(dataDir);
    const db = await openDatabase({ dataDir, name: 'm', module: `${dir}/v2-refused.ts`, deleteData: true });
    expect(db.published).toBe('created');
    expect(await db.sql('SELECT * FROM person')).toEqual([]);
    await db.close();
  });

  it('a failure while switching to the migrated state leaves the database fully old', async () => {
    const store = new MemoryStore();
    const owner = randomIdentity();
    const v1 = (await bundleModule(`${dir}/v1.ts`)).code;
    const v2 = (await bundleModule(`${dir}/v2.ts`)).code;
    const e1 = await Engine.open({ name: 'm', durability: memoryDurability(store), code: v1, owner });
    await e1.call('add', ['ada', 10]);
    await e1.close();
    // The switch is one snapshot write: make it fail, as a crash or a full disk would.
    const d = memoryDurability(store);
    const failing = Object.assign(Object.create(Object.getPrototypeOf(d) as object) as typeof d, d, {
      open: () => d.open(),
      getMeta: (k: string) => d.getMeta(k),
      putMeta: (k: string, v: Uint8Array) => d.putMeta(k, v),
      flush: () => d.flush(),
      close: () => d.close(),
      append: (p: Uint8Array) => d.append(p),
      stats: () => d.stats(),
      destroy: () => d.destroy(),
      writeSnapshot: () => Promise.reject(new Error('injected: disk full during the switch')),
    });
    const err = await Engine.open({ name: 'm', durability: failing, code: v2, owner }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModuleError);
    expect((err as ModuleError).code).toBe('MIGRATION_FAILED');
    const e3 = await Engine.open({ name: 'm', durability: memoryDurability(store), owner });
    expect((await e3.sql('SELECT * FROM person')).rows).toEqual([{ id: 1n, name: 'ada', score: 10 }]);
    expect(e3.host.schema.tables.map((t) => t.name)).toEqual(['person', 'note']);
    await e3.close();
  });
});
