// Several databases from the same or different modules side by side in one data directory, each
// with its own data, log and identity; one owner identity per data directory; acting as another.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataDirOwner, deleteDatabase, listDatabases, openDatabase } from '../src/node/open-database.ts';

describe('many databases in one data directory', () => {
  it('keeps data, logs and identities apart; list and delete', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lc-many-'));
    const a = await openDatabase({ dataDir, name: 'chat-a', module: 'examples/chat' });
    const b = await openDatabase({ dataDir, name: 'chat-b', module: 'examples/chat' });
    const bank = await openDatabase({ dataDir, name: 'bank', module: 'examples/bank' });
    await a.call('send_message', ['only in a']);
    await bank.call('open_account', [1n, 'x', 5n]);
    expect((await a.sql('SELECT text FROM message')).map((r) => r.text)).toEqual(['only in a']);
    expect(await b.sql('SELECT text FROM message')).toEqual([]);
    expect(a.identity.toHexString()).not.toBe(b.identity.toHexString());
    expect(a.owner.toHexString()).toBe(dataDirOwner(dataDir).toHexString());
    expect((await a.logs()).some((l) => l.message.includes('only in a'))).toBe(true);
    expect((await b.logs()).some((l) => l.message.includes('only in a'))).toBe(false);
    await Promise.all([a.close(), b.close(), bank.close()]);

    expect((await listDatabases(dataDir)).map((d) => d.name)).toEqual(['bank', 'chat-a', 'chat-b']);
    await deleteDatabase(dataDir, 'chat-a');
    expect((await listDatabases(dataDir)).map((d) => d.name)).toEqual(['bank', 'chat-b']);
    await expect(deleteDatabase(dataDir, 'chat-a')).rejects.toMatchObject({ code: 'UNKNOWN_DATABASE' });
    // the others are untouched
    const bank2 = await openDatabase({ dataDir, name: 'bank' });
    expect(await bank2.sql('SELECT balance FROM account')).toEqual([{ balance: 5n }]);
    await bank2.close();
  });

  it('the owner identity of a data directory is created once and kept', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lc-owner-'));
    expect(dataDirOwner(dataDir).toHexString()).toBe(dataDirOwner(dataDir).toHexString());
  });

  it('a call may act as another identity (sender)', async () => {
    const db = await openDatabase({ name: 'chat', module: 'examples/chat' });
    const other = `c200${'ab'.repeat(30)}`;
    await db.call('send_message', ['hi'], { sender: other });
    const [row] = await db.sql('SELECT sender FROM message');
    expect((row!.sender as { toHexString(): string }).toHexString()).toBe(other);
    await db.close();
  });

  it('deleting a database that another process has open fails with DATABASE_IN_USE', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lc-inuse-'));
    const db = await openDatabase({ dataDir, name: 'chat', module: 'examples/chat' });
    await expect(deleteDatabase(dataDir, 'chat')).rejects.toMatchObject({ code: 'DATABASE_IN_USE' });
    await db.close();
    await deleteDatabase(dataDir, 'chat');
  });
});
