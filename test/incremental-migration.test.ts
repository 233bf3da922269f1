// The incremental-migration example: v2 adds `character_v2` and moves each v1 row when touched.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { openDatabase } from '../src/node/open-database.ts';

it('moves rows from the old table to the _v2 table on access', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'lc-incr-'));
  const v1 = await openDatabase({ dataDir, name: 'game', module: 'examples/incremental-migration/v1.ts' });
  await v1.call('create_character', [1n, 'Ada', 'mage']);
  await v1.call('create_character', [2n, 'Bo', 'rogue']);
  await v1.close();
  const v2 = await openDatabase({ dataDir, name: 'game', module: 'examples/incremental-migration/v2.ts' });
  expect(v2.published).toBe('updated');
  await v2.call('level_up', [1n]);
  expect(await v2.sql('SELECT id, level FROM character_v2')).toEqual([{ id: 1n, level: 2 }]);
  expect((await v2.sql('SELECT id FROM character')).map((r) => r.id)).toEqual([2n]);
  // The failed call's move of row 2 is rolled back with it: row 2 stays in the old table.
  await expect(v2.call('create_character', [2n, 'Bo', 'rogue'])).rejects.toThrow('already exists');
  expect((await v2.sql('SELECT id FROM character')).map((r) => r.id)).toEqual([2n]);
  await v2.call('level_up', [2n]);
  expect((await v2.sql('SELECT id, level FROM character_v2')).length).toBe(2);
  expect(await v2.sql('SELECT id FROM character')).toEqual([]);
  await v2.close();
});
