// Row-level security: clientVisibilityFilter rules (with :sender) filter every SQL read by a
// client other than the owner; several rules on a table combine with OR; the owner sees all;
// an invalid rule fails the publish with its text.
import { describe, expect, it } from 'vitest';
import { ModuleError } from '../src/errors.ts';
import { openDatabase } from '../src/node/open-database.ts';

const alice = `c200${'a1'.repeat(30)}`;
const bob = `c200${'b2'.repeat(30)}`;

describe('row-level security', () => {
  it('filters reads by other clients with :sender, OR-ing rules, and lets the owner see everything', async () => {
    const db = await openDatabase({ name: 'rls', module: 'test/fixtures/rls.ts' });
    await db.call('open', [10n], { sender: alice });
    await db.call('open', [20n], { sender: bob });
    await db.call('write', ['alice private', false], { sender: alice });
    await db.call('write', ['alice shared', true], { sender: alice });
    await db.call('write', ['bob private', false], { sender: bob });
    expect((await db.sql('SELECT balance FROM account', { sender: alice })).map((r) => r.balance)).toEqual([10n]);
    expect((await db.sql('SELECT balance FROM account', { sender: bob })).map((r) => r.balance)).toEqual([20n]);
    expect((await db.sql('SELECT COUNT(*) AS n FROM account', { sender: alice }))[0]!.n).toBe(1n);
    expect((await db.sql('SELECT text FROM post', { sender: bob })).map((r) => r.text).sort()).toEqual(['alice shared', 'bob private']);
    // a WHERE of the client's own cannot widen what the rules allow
    expect(await db.sql("SELECT text FROM post WHERE text = 'alice private'", { sender: bob })).toEqual([]);
    // the owner bypasses RLS
    expect((await db.sql('SELECT balance FROM account')).length).toBe(2);
    expect((await db.sql('SELECT text FROM post')).length).toBe(3);
    await db.close();
  });

  it('an invalid rule fails the publish, quoting the rule', async () => {
    const err = await openDatabase({ name: 'bad', module: 'test/fixtures/rls-invalid.ts' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModuleError);
    expect((err as ModuleError).code).toBe('INVALID_RLS_RULE');
    expect((err as Error).message).toContain('SELECT * FROM account WHERE missing_column = :sender');
    expect((err as Error).message).toContain('missing_column');
  });
});
