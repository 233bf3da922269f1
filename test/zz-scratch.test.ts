import { it } from 'vitest';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../src/node/open-database.ts';
const F = (n: string) => join(import.meta.dirname, 'fixtures', n);
const show = (e: any) => console.log(e?.name, e?.code, JSON.stringify(e?.message));
it('scratch', async () => {
  const db = await openDatabase({ name: 'x', module: F('bad-bsatn.ts') });
  await db.call('add_item', { id: 1, name: 'one' });
  for (const k of ['truncated', 'garbage', 'trailing']) {
    try { await db.call('insert_bad', { kind: k }); console.log('no error'); } catch (e) { show(e); }
    await db.call('insert_bad_caught', { kind: k });
  }
  console.log(await db.sql('SELECT * FROM item'), await db.sql('SELECT * FROM caught'), await db.logs());
  await db.close();
  const b = await openDatabase({ name: 'b', module: F('banned.ts') });
  try { await b.call('visit_once', { by: 'x' }); } catch (e) { show(e); }
  console.log(await b.sql('SELECT * FROM visit'), await b.logs());
  await b.close();
  const s = await openDatabase({ name: 's', module: F('sequence-rollback.ts') });
  await s.call('take', ['a']);
  try { await s.call('take_then_fail', ['b']); } catch (e) { show(e); }
  await s.call('take', ['c']);
  console.log(await s.sql('SELECT * FROM ticket'), await s.logs());
  await s.close();
  const dir = mkdtempSync(join(tmpdir(), 'lc-'));
  const mods: Record<string, string> = {
    syntax: `import { schema } from 'spacetimedb/server';\nexport default schema({}; \n`,
    missing: `import { schema } from 'spacetimedb/server';\nimport { x } from './nope';\nexport default schema({});\n`,
    throws: `import { schema } from 'spacetimedb/server';\nthrow new Error('kaboom at load');\n`,
    nodefault: `import { schema, table, t } from 'spacetimedb/server';\nconst a = table({}, {id: t.u32()});\nexport const s = schema({ a });\n`,
    helper: `import { schema, table, t } from 'spacetimedb/server';\nconst a = table({}, {id: t.u32()});\nconst s = schema({ a });\nexport default s;\nexport function helper() { return 1; }\n`,
    helper2: `import { schema, table, t } from 'spacetimedb/server';\nconst a = table({}, {id: t.u32()});\nconst s = schema({ a });\nexport default s;\nexport const VERSION = 3;\n`,
  };
  for (const [k, src] of Object.entries(mods)) {
    writeFileSync(join(dir, k + '.ts'), src);
    try { await openDatabase({ name: k, module: join(dir, k + '.ts') }); console.log(k, 'opened!'); } catch (e) { show(e); }
  }
  mkdirSync(join(dir, 'v', 'node_modules', 'spacetimedb'), { recursive: true });
  writeFileSync(join(dir, 'v', 'node_modules', 'spacetimedb', 'package.json'), JSON.stringify({ name: 'spacetimedb', version: '1.0.0' }));
  writeFileSync(join(dir, 'v', 'index.ts'), mods.helper2!.replace('export const VERSION = 3;\n', ''));
  try { await openDatabase({ name: 'v', module: join(dir, 'v') }); } catch (e) { show(e); }
  try { await openDatabase({ name: 'v', dataDir: join(dir, 'data') }); } catch (e) { show(e); }
});
