// Scheduled tables: one-shot and interval rows call their reducer as the database identity,
// deleting a row cancels it, and a reopened database runs what is overdue exactly once.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InternalError } from '../src/errors.ts';
import { openDatabase } from '../src/node/open-database.ts';

const module = 'test/fixtures/schedules.ts';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fired = async (db: { sql(q: string): Promise<Record<string, unknown>[]> }) => (await db.sql('SELECT * FROM fired')).map((r) => r.note);

describe('scheduled tables', () => {
  it('a one-shot row runs once, as the database identity, and is then deleted', async () => {
    const db = await openDatabase({ name: 's', module });
    await db.call('once_in', [10, 'a']);
    await sleep(300);
    const rows = await db.sql('SELECT * FROM fired');
    expect(rows.map((r) => r.note)).toEqual(['a']);
    expect((rows[0]!.sender as { toHexString(): string }).toHexString()).toBe(db.identity.toHexString());
    expect(await db.sql('SELECT * FROM tick')).toEqual([]);
    await db.close();
  });

  it('an interval row repeats until it is deleted', async () => {
    const db = await openDatabase({ name: 's', module });
    await db.call('every', [15, 'b']);
    await sleep(400);
    const n = (await fired(db)).length;
    expect(n).toBeGreaterThanOrEqual(3);
    await db.call('cancel_all', []);
    await sleep(80);
    expect((await fired(db)).length).toBe(n);
    await db.close();
  });

  it('deleting the row before it is due cancels the call', async () => {
    const db = await openDatabase({ name: 's', module });
    await db.call('once_in', [60, 'never']);
    await db.call('cancel_all', []);
    await sleep(120);
    expect(await fired(db)).toEqual([]);
    await db.close();
  });

  it('a time in the past runs once, right away', async () => {
    const db = await openDatabase({ name: 's', module });
    await db.call('once_in', [-60_000, 'late']);
    await sleep(200);
    expect(await fired(db)).toEqual(['late']);
    await db.close();
  });

  it('an interval of zero is refused with ScheduleAtDelayTooLong and nothing is scheduled', async () => {
    const db = await openDatabase({ name: 's', module });
    const err = await db.call('every', [0, 'z']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalError);
    expect((err as Error).message).toMatch(/ScheduleAtDelayTooLong.*interval must be positive/);
    expect(await db.sql('SELECT * FROM tick')).toEqual([]);
    await db.close();
  });

  it('a reopened database runs an overdue one-shot exactly once, before open resolves', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lc-sched-'));
    const db = await openDatabase({ dataDir, name: 's', module });
    await db.call('once_in', [100, 'after-restart']);
    await db.close();
    await sleep(150);
    const db2 = await openDatabase({ dataDir, name: 's' });
    expect(await fired(db2)).toEqual(['after-restart']);
    await db2.close();
    const db3 = await openDatabase({ dataDir, name: 's' });
    expect(await fired(db3)).toEqual(['after-restart']);
    await db3.close();
  });

  it('an interval that missed ticks while closed runs once at open, then resumes its period', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lc-sched-'));
    const db = await openDatabase({ dataDir, name: 's', module });
    await db.call('every', [150, 'i']);
    await sleep(220); // one tick ran (and recorded when)
    await db.close();
    const before = (await (async () => {
      const d = await openDatabase({ dataDir, name: 's' });
      // opening after < 1 period may or may not be due; close at once
      const n = (await fired(d)).length;
      await d.close();
      return n;
    })());
    await sleep(800); // several periods missed
    const db2 = await openDatabase({ dataDir, name: 's' });
    const atOpen = (await fired(db2)).length;
    expect(atOpen - before).toBe(1); // one catch-up call, not a burst
    await sleep(400);
    expect((await fired(db2)).length).toBeGreaterThan(atOpen); // and it keeps ticking
    await db2.close();
  });
});
