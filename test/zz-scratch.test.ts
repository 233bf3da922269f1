import { it } from 'vitest';
import { openDatabase } from '../src/node/open-database.ts';
import { ALL_TYPES } from './helpers/paths.ts';
it('scratch', async () => {
  const db = await openDatabase({ name: 'x', module: ALL_TYPES });
  await db.call('insert_all_types_sample', { id: 1 });
  for (const q of ['SELECT u_8 FROM all_types', 'SELECT u8 FROM all_types', 'SELEC x', 'SELECT * FROM nope', 'SELECT * FROM notice']) {
    try { console.log(q, await db.sql(q)); } catch (e) { console.log(q, 'ERR', e); }
  }
  const P = (id: number, name: string, age: number, city: string, email: string, level: number) => db.call('insert_person', { id, name, age, city, email, level });
  await P(1, 'a', 30, '\uFFFF', 'e1', 1);
  await P(2, 'b', 20, '\u{10000}', 'e1', 2);
  await P(3, 'c', 25, 'A', 'e2', 3);
  await db.call('emit_notice', { kind: 'k', text: 't' });
  console.log(await db.sql('SELECT * FROM result'));
  console.log(await db.sql('SELECT * FROM notice'));
  await db.call('scan_city', { city: '\uFFFF' });
  console.log(await db.sql("SELECT * FROM result WHERE op = 'scan_city'"));
  for (const args of [['x'], { nme: 'x' }, { name: 5 }]) {
    try { await db.call('find_unique', args); } catch (e) { console.log('ERR', e); }
  }
  try { await db.call('deposit', []); } catch (e) { console.log('ERR', e); }
  try { await db.call('init', []); } catch (e) { console.log('ERR', e); }
  try { await db.call('scan_range', { lo: 300, hi: 'abc' }); } catch (e) { console.log('ERR', e); }
  try { await db.call('insert_counter_explicit', { id: 3, seq: 'x', label: 'l' }); } catch (e) { console.log('ERR', e); }
  await db.close();
});
