// Execution limits of Node databases (the engine runs in a worker thread): module code that runs
// longer than the time limit, or exhausts the heap, ends its call as InternalError TIME_LIMIT /
// HEAP_LIMIT; the transaction is rolled back, calls in flight around it commit exactly once, and
// the database (in memory or in files) goes on from what was committed. Real worker threads.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClosedError, errorFromJSON, InternalError } from '../src/errors.ts';
import { openDatabase, type NodeDatabase } from '../src/node/open-database.ts';
import type { InitialRows, TableUpdate } from '../src/subscriptions/types.ts';
import { lightcone } from './helpers/cli.ts';
import { removeTempDirs, tempDir } from './helpers/paths.ts';

const module = 'test/fixtures/runaway.ts';
/**
 * The time limit of these tests. A runaway never ends, so any limit stops it; the limit only has
 * to be long enough that the well-behaved code running beside it is never stopped, even when a
 * loaded machine leaves the engine thread without a CPU for a while (the limit is wall time).
 */
const LIMIT = 2000;
afterAll(removeTempDirs);

const items = async (db: NodeDatabase) => (await db.sql('SELECT * FROM item')).map((r) => `${String(r.id)}:${String(r.note)}`).sort();
const settled = (p: Promise<unknown>) =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );

/** The rejection of `p`, which must reject. */
async function rejection(p: Promise<unknown>): Promise<Error> {
  const out = await settled(p);
  if (out.ok) throw new Error(`expected a rejection, got ${String(out.value)}`);
  return out.error as Error;
}

describe('time limit', () => {
  it('a reducer looping forever ends as InternalError TIME_LIMIT; the calls in flight around it commit exactly once; the in-memory database goes on', async () => {
    const db = await openDatabase({ name: 'spin', module, callTimeoutMs: LIMIT });
    try {
      await db.call('add', [1n, 'before']);
      const applied: InitialRows[] = [];
      const updates: TableUpdate[][] = [];
      let reapplied!: () => void;
      const again = new Promise<void>((resolve) => (reapplied = resolve));
      const sub = db.subscribe(['SELECT * FROM item'], {
        onApplied: (rows) => {
          applied.push(rows);
          if (applied.length === 2) reapplied();
        },
        onUpdate: (u) => updates.push(u),
      });
      await sub.applied;
      // One message to the engine: `add 2` runs before the runaway (its commit may or may not have
      // reached storage when the thread is stopped), `add 3` after it (it has not started).
      const two = settled(db.call('add', [2n, 'beside']));
      const spun = settled(db.call('spin', [100n]));
      const three = settled(db.call('add', [3n, 'after']));
      const err = (await spun) as { ok: false; error: unknown };
      expect(err.ok).toBe(false);
      expect(err.error).toBeInstanceOf(InternalError);
      const e = err.error as InternalError;
      expect(e.code).toBe('TIME_LIMIT');
      expect(e.message).toContain(`reducer spin ran for more than ${LIMIT} ms`);
      expect(e.message).toContain('callTimeoutMs');
      expect(e.message).toContain('rolled back');
      expect(e.details).toMatchObject({ database: 'spin', callTimeoutMs: LIMIT });
      // Exactly once: `add` inserts a primary key, so running one twice would reject.
      expect(await two).toEqual({ ok: true, value: undefined });
      expect(await three).toEqual({ ok: true, value: undefined });
      expect(await items(db)).toEqual(['1:before', '2:beside', '3:after']);
      // The subscription continues on the new thread from a fresh snapshot.
      await again;
      expect(applied[1]!.item!.map((r) => r.id).sort()).toEqual(expect.arrayContaining([1n]));
      await db.call('add', [4n, 'later']);
      expect(await items(db)).toEqual(['1:before', '2:beside', '3:after', '4:later']);
      expect(updates.some((u) => u.some((t) => t.inserts.some((r) => r.id === 4n)))).toBe(true);
      expect((await db.logs()).some((l) => l.level === 'error' && l.message.includes(`reducer spin ran for more than ${LIMIT} ms`))).toBe(true);
      sub.unsubscribe();
    } finally {
      await db.close();
    }
  });

  it('with a data directory the rolled-back row never reaches the files, and reopening finds what committed', async () => {
    const dataDir = tempDir('lc-limits-');
    const db = await openDatabase({ dataDir, name: 'spin', module, callTimeoutMs: LIMIT });
    await db.call('add', [1n, 'kept']);
    expect(((await rejection(db.call('spin', [2n]))) as InternalError).code).toBe('TIME_LIMIT');
    await db.call('add', [3n, 'kept too']);
    await db.close();
    const again = await openDatabase({ dataDir, name: 'spin' });
    try {
      expect(await items(again)).toEqual(['1:kept', '3:kept too']);
    } finally {
      await again.close();
    }
  });

  it('a procedure that had run when the thread was stopped is not run again: it rejects with ClosedError (restarted)', async () => {
    const db = await openDatabase({ name: 'proc', module, callTimeoutMs: LIMIT });
    try {
      await db.call('add', [1n, 'one']);
      // The procedure runs before the runaway; its answer waits for its transaction to be durable.
      const counted = settled(db.call('count', []));
      const spun = settled(db.call('spin', [2n]));
      expect(((await spun) as { error: InternalError }).error.code).toBe('TIME_LIMIT');
      const c = await counted;
      // Either its answer got out before the stop, or it is reported lost: never run twice.
      if (c.ok) {
        expect(c.value).toBe(1n);
      } else {
        expect(c.error).toBeInstanceOf(ClosedError);
        expect((c.error as ClosedError).details).toMatchObject({ restarted: true });
      }
      expect(await db.call('count', [])).toBe(1n);
    } finally {
      await db.close();
    }
  });

  it('waiting on HTTP does not count: a procedure whose fetch takes longer than the limit succeeds', async () => {
    const server: Server = createServer((_req, res) => {
      // Answer well after the limit would have stopped a running call.
      setTimeout(() => res.end('late but fine'), 2 * LIMIT);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const db = await openDatabase({ name: 'http', module, callTimeoutMs: LIMIT });
    try {
      expect(await db.call('fetch_body', [`http://127.0.0.1:${port}/`])).toBe('late but fine');
    } finally {
      await db.close();
      server.close();
    }
  });

  it('a scheduled runaway restarts the database; when it runs away again while reopening, the database stops with TIME_LIMIT', async () => {
    const db = await openDatabase({ name: 'sched', module, callTimeoutMs: LIMIT });
    await db.call('add', [1n, 'one']);
    // The scheduled call runs away with no caller; the new thread runs the overdue row while it
    // opens, runs away again, and the database stops. Calls until then go through or wait (the
    // one that scheduled it may be answered before the first stop, or end with the second).
    void settled(db.call('spin_soon', []));
    let err: unknown;
    for (let id = 10n; err === undefined; id++) {
      const r = await settled(db.call('add', [id, 'meanwhile']));
      if (!r.ok) err = r.error;
    }
    expect(err).toBeInstanceOf(InternalError);
    expect((err as InternalError).code).toBe('TIME_LIMIT');
    expect((err as Error).message).toContain(`reducer spin_scheduled ran for more than ${LIMIT} ms`);
    expect((err as Error).message).toContain('stopped');
    expect(((await rejection(db.sql('SELECT * FROM item'))) as InternalError).code).toBe('TIME_LIMIT');
    await db.close();
  });

  it('a module whose top-level code loops forever fails to open with TIME_LIMIT', async () => {
    const code = 'for (;;) {}\nmodule.exports = {};';
    const err = await rejection(openDatabase({ name: 'load', code, callTimeoutMs: 500 }));
    expect(err).toBeInstanceOf(InternalError);
    expect((err as InternalError).code).toBe('TIME_LIMIT');
    expect(err.message).toContain("the module's top-level code ran for more than 500 ms");
    expect(err.message).toContain('was not opened');
  });
});

describe('heap limit', () => {
  it('a reducer allocating without end ends as InternalError HEAP_LIMIT; the calls around it commit exactly once; the database goes on', async () => {
    // A small heap so the runaway exhausts it quickly; time is not what stops it.
    const db = await openDatabase({ name: 'hog', module, maxHeapMb: 32, callTimeoutMs: 600_000 });
    try {
      await db.call('add', [1n, 'before']);
      const two = settled(db.call('add', [2n, 'beside']));
      const hogged = settled(db.call('hog', [100n]));
      const three = settled(db.call('add', [3n, 'after']));
      const out = (await hogged) as { ok: false; error: InternalError };
      expect(out.error).toBeInstanceOf(InternalError);
      expect(out.error.code).toBe('HEAP_LIMIT');
      expect(out.error.message).toContain('reducer hog ran out of memory');
      expect(out.error.message).toContain('32 MiB');
      expect(out.error.message).toContain('maxHeapMb');
      expect(await two).toEqual({ ok: true, value: undefined });
      expect(await three).toEqual({ ok: true, value: undefined });
      expect(await items(db)).toEqual(['1:before', '2:beside', '3:after']);
      await db.call('add', [4n, 'later']);
      expect(await items(db)).toEqual(['1:before', '2:beside', '3:after', '4:later']);
    } finally {
      await db.close();
    }
  });
});

describe('limit options', () => {
  it('are positive whole numbers', async () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      await expect(openDatabase({ name: 'x', module, callTimeoutMs: bad })).rejects.toMatchObject({ name: 'UsageError', code: 'BAD_OPTION' });
      await expect(openDatabase({ name: 'x', module, maxHeapMb: bad })).rejects.toMatchObject({ name: 'UsageError', code: 'BAD_OPTION' });
    }
  });

  it('the limit code survives the wire form of the error', () => {
    const e = errorFromJSON(new InternalError('x', {}, { code: 'TIME_LIMIT' }).toJSON());
    expect(e).toBeInstanceOf(InternalError);
    expect(e.code).toBe('TIME_LIMIT');
    expect(errorFromJSON(new InternalError('y').toJSON()).code).toBe('INTERNAL_ERROR');
  });
});

describe('the CLI', () => {
  let dataDir = '';
  beforeAll(async () => {
    dataDir = tempDir('lc-limits-cli-');
    const pub = await lightcone(['publish', '--data-dir', dataDir, '--module-path', module, 'spin']);
    expect(pub.code, pub.stderr).toBe(0);
  });

  it('`call` with a runaway reducer exits non-zero naming the limit; the database still works', async () => {
    const r = await lightcone(['call', '--data-dir', dataDir, '--call-timeout', String(LIMIT), 'spin', 'spin', '7']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`reducer spin ran for more than ${LIMIT} ms`);
    expect(r.stderr).toContain('--call-timeout');
    expect((await lightcone(['call', '--data-dir', dataDir, 'spin', 'add', '1', '"ok"'])).code).toBe(0);
    const sql = await lightcone(['sql', '--data-dir', dataDir, 'spin', 'SELECT * FROM item', '--json']);
    expect(JSON.parse(sql.stdout)).toEqual([{ id: 1, note: 'ok' }]);
  });

  it('refuses a limit that is not a positive whole number', async () => {
    const r = await lightcone(['call', '--data-dir', dataDir, '--max-heap', 'lots', 'spin', 'add', '2', '"x"']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('--max-heap needs a positive whole number of MiB');
  });
});
