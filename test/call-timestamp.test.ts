// `call(…, { timestamp })`: a call run at a given time (the playground's session replay). The
// reducer and the lifecycle hooks around it see that time, and what the module derives from it
// (ctx.random, ctx.newUuidV4/V7) comes out the same in another database: a recorded call replayed
// with its timestamp, sender and arguments does what it did.
import { afterEach, describe, expect, it } from 'vitest';
import type { Timestamp } from 'spacetimedb';
import { openDatabase, type NodeDatabase } from '../src/node/open-database.ts';
import { UsageError } from '../src/errors.ts';
import { CHAT, ROOT } from './helpers/paths.ts';
import { join } from 'node:path';

const SURFACE = join(ROOT, 'test', 'fixtures', 'runtime-surface.ts');
const TIMES = join(ROOT, 'test', 'fixtures', 'call-times.ts');
const ANN = `c200${'a1'.repeat(30)}`;
const AT = 1_700_000_000_123_456n;

const open: NodeDatabase[] = [];
afterEach(async () => {
  for (const db of open.splice(0)) await db.close();
});
async function fresh(module: string, name: string): Promise<NodeDatabase> {
  const db = await openDatabase({ name, module });
  open.push(db);
  return db;
}

describe('call timestamp', () => {
  it("the reducer's ctx.timestamp is the given one, and later calls without it run at the clock's time", async () => {
    const db = await fresh(CHAT, 'chat');
    await db.call('send_message', { text: 'then' }, { sender: ANN, timestamp: AT });
    await db.call('send_message', { text: 'now' }, { sender: ANN });
    const rows = (await db.sql('SELECT * FROM message')) as { text: string; sent: Timestamp }[];
    const sent = new Map(rows.map((r) => [r.text, r.sent.microsSinceUnixEpoch]));
    expect(sent.get('then')).toBe(AT);
    expect(sent.get('now')! > AT).toBe(true);
  });

  it('what a reducer derives from the time (UUIDs from ctx.random and the clock) is the same in another database', async () => {
    const rows: string[][] = [];
    for (const name of ['a', 'b']) {
      const db = await fresh(SURFACE, name);
      await db.call('make_uuids', { note: 'x' }, { sender: ANN, timestamp: AT });
      await db.call('make_uuids', { note: 'y' }, { sender: ANN, timestamp: AT + 1000n });
      const ids = (await db.sql('SELECT * FROM ids')) as { id: { toString(): string }; note: string; made_at: Timestamp }[];
      rows.push(ids.map((r) => `${r.note} ${r.id.toString()} ${r.made_at.microsSinceUnixEpoch}`).sort());
    }
    expect(rows[0]).toHaveLength(6);
    expect(rows[1]).toEqual(rows[0]);
    expect(rows[0]!.filter((r) => r.endsWith(` ${AT}`))).toHaveLength(3);
  });

  it('the lifecycle hooks around the call run at that time too, and ctx.random draws the same numbers', async () => {
    const seen: string[][] = [];
    for (const name of ['c', 'd']) {
      const db = await fresh(TIMES, name);
      await db.call('roll', { what: 'roll' }, { sender: ANN, timestamp: AT });
      const rows = (await db.sql('SELECT * FROM seen')) as { id: bigint; what: string; at: Timestamp; dice: number }[];
      seen.push(rows.sort((a, b) => Number(a.id - b.id)).map((r) => `${r.what} ${r.at.microsSinceUnixEpoch} ${r.dice}`));
    }
    expect(seen[0]!.map((r) => r.split(' ').slice(0, 2).join(' '))).toEqual([`connected ${AT}`, `roll ${AT}`, `disconnected ${AT}`]);
    expect(seen[1]).toEqual(seen[0]);
  });

  it('a timestamp that is not a bigint in the i64 range is refused with UsageError BAD_OPTION, and nothing runs', async () => {
    const db = await fresh(CHAT, 'bad');
    for (const bad of [1_700_000_000 as unknown as bigint, 1n << 63n, '2024-01-01' as unknown as bigint]) {
      const err = await db.call('send_message', { text: 'x' }, { sender: ANN, timestamp: bad }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect((err as UsageError).code).toBe('BAD_OPTION');
      expect((err as Error).message).toContain('timestamp must be a bigint of microseconds');
    }
    expect(await db.sql('SELECT * FROM message')).toEqual([]);
    expect(await db.sql('SELECT * FROM user')).toEqual([]);
  });
});
