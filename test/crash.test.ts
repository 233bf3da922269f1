// Crash recovery with real file durability: a writer process is SIGKILLed mid-stream and every
// call it saw resolve must survive, whole transactions only; a second opener is refused while the
// first runs; a torn log tail is cut on reopen; a damaged byte in the middle of the log is refused.
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { StorageError } from '../src/errors.ts';
import { databaseDir, openDatabase } from '../src/node/open-database.ts';
import { lightcone } from './helpers/cli.ts';
import { killLineChildren, spawnLineChild } from './helpers/line-child.ts';
import { BANK_DIR, ROOT, removeTempDirs, tempDir } from './helpers/paths.ts';

const WRITER = join(ROOT, 'test', 'helpers', 'writer.mjs');
const INITIAL = 10n ** 15n;

afterEach(killLineChildren);
afterAll(removeTempDirs);

/** Publishes bank in `dataDir` with account 1 (INITIAL) and account 2 (0). */
async function publishBank(dataDir: string): Promise<void> {
  const db = await openDatabase({ dataDir, name: 'bank', module: BANK_DIR });
  await db.call('open_account', [1n, 'alice', INITIAL]);
  await db.call('open_account', [2n, 'bob', 0n]);
  await db.close();
}

interface Writer {
  child: ChildProcess;
  /** Resolves once the writer has the database open (it printed `ready`). */
  ready: Promise<void>;
  /** Resolves when `n` calls were acknowledged. */
  acked(n: number): Promise<void>;
  /** Resolves after the process is gone and its stdout is drained: every number it printed. */
  exited: Promise<{ acked: number[]; stderr: string; code: number | null; signal: NodeJS.Signals | null }>;
}

function startWriter(dataDir: string, mode: 'deposit' | 'transfer', snapshotEvery?: number): Writer {
  const acked: number[] = [];
  const w = spawnLineChild(WRITER, [dataDir, 'bank', mode, ...(snapshotEvery ? [String(snapshotEvery)] : [])], (line) => {
    if (/^\d+$/.test(line)) acked.push(Number(line));
  });
  return {
    child: w.child,
    ready: w.until(() => w.lines.includes('ready')),
    acked: (n) => w.until(() => acked.length >= n),
    exited: w.exited.then(({ stderr, code, signal }) => ({ acked, stderr, code, signal })),
  };
}

/** 1 + 2 + ... + k */
const tri = (k: number): bigint => (BigInt(k) * BigInt(k + 1)) / 2n;

/** The k with tri(k) === v, or undefined when v is not a whole number of calls. */
function callsFor(v: bigint): number | undefined {
  for (let k = 0; k < 1_000_000; k++) {
    const t = tri(k);
    if (t === v) return k;
    if (t > v) return undefined;
  }
  return undefined;
}

async function balances(db: { sql(q: string): Promise<Record<string, unknown>[]> }): Promise<Map<bigint, bigint>> {
  const rows = await db.sql('SELECT id, balance FROM account');
  return new Map(rows.map((r) => [r.id as bigint, r.balance as bigint]));
}

describe('SIGKILL during a stream of acknowledged calls', () => {
  const cases: { mode: 'deposit' | 'transfer'; killAfter: number; snapshotEvery?: number }[] = [
    { mode: 'deposit', killAfter: 1 },
    { mode: 'deposit', killAfter: 12 },
    { mode: 'deposit', killAfter: 40 },
    { mode: 'deposit', killAfter: 23, snapshotEvery: 4 },
    { mode: 'transfer', killAfter: 17 },
    { mode: 'transfer', killAfter: 30, snapshotEvery: 5 },
  ];

  for (const c of cases) {
    it(`${c.mode}: killed after ${c.killAfter} acknowledged calls${c.snapshotEvery ? ` (snapshot every ${c.snapshotEvery})` : ''} loses none of them and no half call`, async () => {
      const dataDir = tempDir('lightcone-crash-');
      await publishBank(dataDir);
      const w = startWriter(dataDir, c.mode, c.snapshotEvery);
      await w.acked(c.killAfter);
      w.child.kill('SIGKILL');
      const { acked, signal } = await w.exited;
      expect(signal).toBe('SIGKILL');
      // The writer printed 1, 2, 3, ... in order: every printed call resolved, so it is durable.
      expect(acked).toEqual(acked.map((_, i) => i + 1));
      const last = acked.length;
      expect(last).toBeGreaterThanOrEqual(c.killAfter);

      let expected: Map<bigint, bigint>;
      const db = await openDatabase({ dataDir, name: 'bank' });
      try {
        const b = await balances(db);
        let applied: number | undefined;
        if (c.mode === 'deposit') {
          applied = callsFor(b.get(1n)! - INITIAL);
          expect(b.get(2n)).toBe(0n);
        } else {
          // A transfer changes two rows and inserts an audit row: all three or none.
          expect(b.get(1n)! + b.get(2n)!).toBe(INITIAL);
          applied = callsFor(b.get(2n)!);
          const audit = await db.sql('SELECT amount FROM audit');
          expect(audit.map((r) => Number(r.amount as bigint)).sort((x, y) => x - y)).toEqual(Array.from({ length: audit.length }, (_, i) => i + 1));
          expect(audit.length).toBe(applied);
        }
        // A whole number of calls, at least every acknowledged one, at most the one in flight.
        expect(applied, `balances ${[...b.entries()].join(' ')}`).toBeDefined();
        expect(applied!).toBeGreaterThanOrEqual(last);
        expect(applied!).toBeLessThanOrEqual(last + 1);

        // The database is usable afterwards, and what it writes now is durable too.
        await db.call('deposit', [2n, 7n]);
        expected = await balances(db);
        expect(expected.get(2n)).toBe(b.get(2n)! + 7n);
        expect(expected.get(1n)).toBe(b.get(1n));
      } finally {
        await db.close();
      }
      const again = await openDatabase({ dataDir, name: 'bank' });
      try {
        expect(await balances(again)).toEqual(expected);
      } finally {
        await again.close();
      }
    }, 60_000);
  }
});

describe('one process at a time', () => {
  it('a second opener gets StorageError DATABASE_IN_USE while the writer runs, and the database after it is killed', async () => {
    const dataDir = tempDir('lightcone-lock-');
    await publishBank(dataDir);
    const w = startWriter(dataDir, 'deposit');
    await w.ready;
    await w.acked(2);
    const err = await openDatabase({ dataDir, name: 'bank' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).code).toBe('DATABASE_IN_USE');
    expect((err as StorageError).message).toContain(String(w.child.pid));

    // The CLI refuses too, with the reason on stderr.
    const r = await lightcone(['sql', 'bank', 'SELECT * FROM account', '--data-dir', dataDir]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/in use|already open|process \d+/i);

    // The writer was not disturbed by the refused openers: it keeps acknowledging calls.
    await w.acked(5);
    w.child.kill('SIGKILL');
    const { acked } = await w.exited;
    expect(acked.length).toBeGreaterThanOrEqual(2);

    // Its lock is stale now (the process is dead): it is taken over.
    const db = await openDatabase({ dataDir, name: 'bank' });
    try {
      const b = await balances(db);
      expect(callsFor(b.get(1n)! - INITIAL)).toBeGreaterThanOrEqual(acked.length);
    } finally {
      await db.close();
    }
  }, 60_000);
});

describe('damaged commit log', () => {
  /** Publishes bank, then deposits 1..n into account 1 in one session: n + 2 log records, no snapshot after publish. */
  async function bankWithDeposits(n: number): Promise<{ dataDir: string; segment: string }> {
    const dataDir = tempDir('lightcone-log-');
    const db = await openDatabase({ dataDir, name: 'bank', module: BANK_DIR });
    await db.call('open_account', [1n, 'alice', 0n]);
    await db.call('open_account', [2n, 'bob', 0n]);
    for (let i = 1; i <= n; i++) await db.call('deposit', [1n, BigInt(i)]);
    await db.close();
    const dir = databaseDir(dataDir, 'bank');
    const segments = readdirSync(dir).filter((f) => /^log-\d{20}\.seg$/.test(f));
    expect(segments).toHaveLength(1);
    return { dataDir, segment: join(dir, segments[0]!) };
  }

  /** Byte offsets of the frames of a segment (16-byte header; frame = 20-byte header + payload). */
  function frames(file: string): { start: number; end: number; lsn: bigint }[] {
    const bytes = readFileSync(file);
    const out: { start: number; end: number; lsn: bigint }[] = [];
    let off = 16;
    while (off + 20 <= bytes.length) {
      const len = bytes.readUInt32LE(off);
      out.push({ start: off, end: off + 20 + len, lsn: bytes.readBigUInt64LE(off + 8) });
      off += 20 + len;
    }
    expect(off).toBe(bytes.length);
    return out;
  }

  async function balance1(dataDir: string): Promise<bigint> {
    const db = await openDatabase({ dataDir, name: 'bank' });
    try {
      return (await balances(db)).get(1n)!;
    } finally {
      await db.close();
    }
  }

  it('the log holds one frame per committed call (the layout the other tests rely on)', async () => {
    const { segment } = await bankWithDeposits(5);
    const f = frames(segment);
    expect(f.map((x) => x.lsn)).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n]);
  });

  for (const cut of [1, 3, 'half-frame', 'into-header'] as const) {
    it(`a torn tail (last frame cut: ${cut}) is cut on reopen; earlier commits stay and new ones append after them`, async () => {
      const { dataDir, segment } = await bankWithDeposits(5);
      const f = frames(segment);
      const lastFrame = f[f.length - 1]!;
      const size = readFileSync(segment).length;
      const newSize = cut === 'half-frame' ? lastFrame.start + Math.floor((lastFrame.end - lastFrame.start) / 2) : cut === 'into-header' ? lastFrame.start + 7 : size - cut;
      truncateSync(segment, newSize);
      // A torn write only follows a crash, which leaves no record of a clean close (CLOSED);
      // after a clean close the same bytes are damage (see src/durability/files.test.ts).
      rmSync(join(dirname(segment), 'CLOSED'));

      const db = await openDatabase({ dataDir, name: 'bank' });
      try {
        // deposit(1, 5) was the last frame: gone whole; deposits 1..4 intact.
        expect((await balances(db)).get(1n)).toBe(tri(4));
        const logs = await db.logs();
        expect(logs.some((l) => l.level === 'warn' && /torn|tail/i.test(l.message))).toBe(true);
        await db.call('deposit', [1n, 100n]);
        expect((await balances(db)).get(1n)).toBe(tri(4) + 100n);
      } finally {
        await db.close();
      }
      expect(await balance1(dataDir)).toBe(tri(4) + 100n);
      expect(frames(segment).map((x) => x.lsn)).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n]);
    }, 60_000);
  }

  it('a corrupt byte in the middle of the log is refused with StorageError CORRUPT_LOG naming the file and offset', async () => {
    const { dataDir, segment } = await bankWithDeposits(5);
    const f = frames(segment);
    const victim = f[3]!; // lsn 4: deposit(1, 2); whole frames of later writes follow it
    const bytes = readFileSync(segment);
    const at = victim.start + 20 + Math.floor((victim.end - victim.start - 20) / 2);
    bytes[at] = bytes[at]! ^ 0xff;
    writeFileSync(segment, bytes);

    const open = () =>
      openDatabase({ dataDir, name: 'bank' }).then(
        async (db) => {
          await db.close();
          return undefined;
        },
        (e: unknown) => e,
      );
    const err = await open();
    expect(err).toBeInstanceOf(StorageError);
    const se = err as StorageError;
    expect(se.code).toBe('CORRUPT_LOG');
    expect(se.message).toContain(segment.split('/').pop()!);
    expect(se.message).toMatch(/corrupt/i);
    expect(se.message).toContain(String(victim.start));
    expect(se.details.offset).toBe(victim.start);
    // Refusing did not "repair" anything or leave the lock behind: the same error again.
    expect(readFileSync(segment).equals(bytes)).toBe(true);
    const again = await open();
    expect(again).toBeInstanceOf(StorageError);
    expect((again as StorageError).code).toBe('CORRUPT_LOG');
  }, 60_000);

  it('a damaged lsn field in the middle of the log is refused with CORRUPT_LOG too', async () => {
    const { dataDir, segment } = await bankWithDeposits(5);
    const f = frames(segment);
    const victim = f[2]!;
    const bytes = readFileSync(segment);
    bytes[victim.start + 8] = bytes[victim.start + 8]! ^ 0x01;
    writeFileSync(segment, bytes);
    const err = await openDatabase({ dataDir, name: 'bank' }).then(
      async (db) => {
        await db.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).code).toBe('CORRUPT_LOG');
    expect((err as StorageError).message).toContain(segment.split('/').pop()!);
  }, 60_000);
});
