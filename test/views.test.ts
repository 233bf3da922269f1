// Views: sender and anonymous views, returning rows or query-builder queries, read with SQL like
// tables; their read set; and the bad cases (a view that throws, duplicate primary keys, writes).
import { beforeEach, describe, expect, it } from 'vitest';
import { SqlError } from '../src/errors.ts';
import { bundleModule } from '../src/host/bundle.ts';
import { memoryDurability } from '../src/durability/memory.ts';
import { Engine, randomIdentity } from '../src/engine/engine.ts';
import { evaluateView } from '../src/sql/execute.ts';

const code = (await bundleModule('test/fixtures/views.ts')).code;
const owner = randomIdentity();
const alice = `c200${'a1'.repeat(30)}`;
const bob = `c200${'b2'.repeat(30)}`;

describe('views', () => {
  let e: Engine;
  beforeEach(async () => {
    e = await Engine.open({ name: 'v', durability: memoryDurability(), code, owner });
    await e.call('add', ['alice', 30], { sender: alice });
    await e.call('add', ['bob', 12], { sender: bob });
    await e.call('add', ['carol', 40], { sender: owner });
  });

  const names = (rows: Record<string, unknown>[]) => rows.map((r) => r.name).sort();

  it('a sender view is computed for the caller', async () => {
    expect(names((await e.sql('SELECT * FROM my_person', { sender: alice })).rows)).toEqual(['alice']);
    expect(names((await e.sql('SELECT * FROM my_person', { sender: bob })).rows)).toEqual(['bob']);
    expect((await e.sql('SELECT * FROM my_person', { sender: `c200${'00'.repeat(30)}` })).rows).toEqual([]);
  });

  it('anonymous views return rows or a query; both read like tables, with WHERE and COUNT', async () => {
    expect(names((await e.sql('SELECT * FROM adults_list')).rows)).toEqual(['alice', 'carol']);
    expect(names((await e.sql('SELECT * FROM adults_query')).rows)).toEqual(['alice', 'carol']);
    expect(names((await e.sql("SELECT * FROM adults_query WHERE name = 'carol'")).rows)).toEqual(['carol']);
    expect((await e.sql('SELECT COUNT(*) AS n FROM adults_list')).rows).toEqual([{ n: 2n }]);
  });

  it('a view is computed, never stored: later writes show up, and nothing is left behind', async () => {
    await e.call('add', ['dan', 50]);
    expect(names((await e.sql('SELECT * FROM adults_list')).rows)).toEqual(['alice', 'carol', 'dan']);
    expect(e.host.datastore.tableByName('adults_list')!.count).toBe(0);
  });

  it('evaluation records the tables a view read', () => {
    const q = evaluateView(e, 'adults_query', owner.__identity__);
    expect(q.rows).toHaveLength(2);
    expect([...q.reads]).toEqual(['person']);
    const s = evaluateView(e, 'my_person', BigInt(`0x${alice}`));
    expect(s.rows).toHaveLength(1);
    expect([...s.reads]).toEqual(['person']);
  });

  it('a view that throws is a named error and changes nothing', async () => {
    const err = await e.sql('SELECT * FROM broken').catch((x: unknown) => x);
    expect(err).toBeInstanceOf(SqlError);
    expect((err as SqlError).code).toBe('VIEW_FAILED');
    expect((err as Error).message).toContain('this view is broken');
    expect((await e.sql('SELECT * FROM person')).rows).toHaveLength(3);
  });

  it('a view returning a primary key twice is refused', async () => {
    const err = await e.sql('SELECT * FROM twice').catch((x: unknown) => x);
    expect((err as SqlError).code).toBe('VIEW_DUPLICATE_KEY');
  });

  it('a view cannot write', async () => {
    const err = await e.sql('SELECT * FROM sneaky').catch((x: unknown) => x);
    expect((err as SqlError).code).toBe('VIEW_FAILED');
    expect((err as Error).message).toContain('read-only');
    expect((await e.sql('SELECT * FROM person')).rows).toHaveLength(3);
  });
});
