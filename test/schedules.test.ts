// Scheduled tables: one-shot and interval rows call their reducer as the database identity,
// deleting a row cancels it, and a reopened database runs what is overdue exactly once. Time is a
// manual clock (test/helpers/manual-clock.ts): each test moves it and then asserts exactly what
// ran, so no result depends on how fast a loaded machine runs timers.
import { describe, expect, it } from 'vitest';
import type { Identity } from 'spacetimedb';
import { memoryDurability, MemoryStore } from '../src/durability/memory.ts';
import { Engine, randomIdentity } from '../src/engine/engine.ts';
import { InternalError } from '../src/errors.ts';
import { bundleModule } from '../src/host/bundle.ts';
import { openDatabase } from '../src/node/open-database.ts';
import { ManualClock } from './helpers/manual-clock.ts';

const module = 'test/fixtures/schedules.ts';
const code = (await bundleModule(module)).code;
const owner = randomIdentity();

function open(clock: ManualClock, store = new MemoryStore()): Promise<Engine> {
  return Engine.open({ name: 's', durability: memoryDurability(store), code, owner, clock });
}

async function fired(e: Engine): Promise<{ note: string; sender: Identity; at: { microsSinceUnixEpoch: bigint } }[]> {
  return (await e.sql('SELECT * FROM fired')).rows as never;
}
const notes = async (e: Engine) => (await fired(e)).map((r) => r.note);
const ticks = async (e: Engine) => (await e.sql('SELECT * FROM tick')).rows.length;

describe('scheduled tables', () => {
  it('a one-shot row runs once when due, as the database identity, and is then deleted', async () => {
    const clock = new ManualClock();
    const e = await open(clock);
    const t0 = clock.nowMicros();
    await e.call('once_in', [10, 'a']);
    await clock.advance(9);
    expect(await notes(e)).toEqual([]);
    await clock.advance(1);
    const rows = await fired(e);
    expect(rows.map((r) => r.note)).toEqual(['a']);
    expect(rows[0]!.sender.toHexString()).toBe(e.identity.toHexString());
    expect(rows[0]!.at.microsSinceUnixEpoch).toBe(t0 + 10_000n); // called with its due time
    expect(await ticks(e)).toBe(0);
    expect(clock.pending).toBe(0);
    await clock.advance(10_000);
    expect(await notes(e)).toEqual(['a']);
    await e.close();
  });

  it('an interval row runs once per period until it is deleted', async () => {
    const clock = new ManualClock();
    const e = await open(clock);
    const t0 = clock.nowMicros();
    await e.call('every', [15, 'b']);
    await clock.advance(44);
    expect(await notes(e)).toEqual(['b', 'b']);
    await clock.advance(1);
    expect((await fired(e)).map((r) => r.at.microsSinceUnixEpoch - t0)).toEqual([15_000n, 30_000n, 45_000n]);
    await e.call('cancel_all', []);
    expect(clock.pending).toBe(0);
    await clock.advance(1000);
    expect(await notes(e)).toHaveLength(3);
    await e.close();
  });

  it('deleting the row before it is due cancels the call', async () => {
    const clock = new ManualClock();
    const e = await open(clock);
    await e.call('once_in', [60, 'never']);
    await e.call('cancel_all', []);
    await clock.advance(120);
    expect(await notes(e)).toEqual([]);
    expect(clock.pending).toBe(0);
    await e.close();
  });

  it('a time in the past runs once, right away', async () => {
    const clock = new ManualClock();
    const e = await open(clock);
    await e.call('once_in', [-60_000, 'late']);
    await clock.advance(0);
    expect(await notes(e)).toEqual(['late']);
    await clock.advance(60_000);
    expect(await notes(e)).toEqual(['late']);
    await e.close();
  });

  it('an interval of zero is refused with ScheduleAtDelayTooLong and nothing is scheduled', async () => {
    const clock = new ManualClock();
    const e = await open(clock);
    const err = await e.call('every', [0, 'z']).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(InternalError);
    expect((err as Error).message).toMatch(/ScheduleAtDelayTooLong.*interval must be positive/);
    expect(await ticks(e)).toBe(0);
    expect(clock.pending).toBe(0);
    await e.close();
  });

  it('a scheduled run that fails outside its reducer is written to the module log, not lost', async () => {
    const clock = new ManualClock();
    const e = await open(clock);
    await e.call('once_in', [10, 'a']);
    // A commit listener is engine code: its throw is an internal failure of the scheduled run.
    e.onCommit((_delta, info) => {
      if (info.reducer === 'on_tick') throw new Error('injected: a commit listener failed');
    });
    await clock.advance(10);
    await e.exclusive(() => {}); // queued behind the scheduled run
    const errors = e.logs().filter((l) => l.level === 'error');
    expect(errors.map((l) => l.message)).toEqual(['the schedule of tick row 1 could not run: injected: a commit listener failed']);
    await e.close();
  });

  it('a reopened database runs an overdue one-shot exactly once, before open resolves', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const e = await open(clock, store);
    await e.call('once_in', [100, 'after-restart']);
    await e.close();
    expect(clock.pending).toBe(0); // closing cancelled the timer
    await clock.advance(150);
    const e2 = await open(clock, store);
    expect(await notes(e2)).toEqual(['after-restart']);
    await e2.close();
    const e3 = await open(clock, store);
    expect(await notes(e3)).toEqual(['after-restart']);
    await e3.close();
  });

  it('an interval that missed ticks while closed runs once at open, then resumes its period', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const e = await open(clock, store);
    await e.call('every', [150, 'i']);
    await clock.advance(150); // one tick ran (and recorded when)
    expect(await notes(e)).toEqual(['i']);
    await e.close();
    await clock.advance(800); // closed through five more periods (due at 300, 450, … 900)
    const e2 = await open(clock, store);
    expect(await notes(e2)).toEqual(['i', 'i']); // one catch-up call at open, not a burst
    // The period resumes on its old phase: ticks at 1050, 1200, … (now is 950).
    await clock.advance(99);
    expect(await notes(e2)).toHaveLength(2);
    await clock.advance(1);
    expect(await notes(e2)).toHaveLength(3);
    await clock.advance(150);
    expect(await notes(e2)).toHaveLength(4);
    await e2.close();
  });

  it('with the real clock, a one-shot row fires by itself (waited for as an event)', async () => {
    const db = await openDatabase({ name: 's', module });
    const firedRow = new Promise<string>((resolve) => {
      db.subscribe(['SELECT * FROM fired'], {
        onUpdate: (updates) => {
          for (const u of updates) for (const r of u.inserts) resolve((r as { note: string }).note);
        },
      });
    });
    await db.call('once_in', [10, 'real']);
    expect(await firedRow).toBe('real');
    expect(await db.sql('SELECT * FROM tick')).toEqual([]);
    await db.close();
  });
});
