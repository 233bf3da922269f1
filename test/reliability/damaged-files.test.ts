// Every byte recovery trusts, damaged: a bank database (a snapshot, log records after it, meta
// files) is copied, one byte of one file is flipped, and the copy is reopened. The outcome must be
// a StorageError with a code (refused, nothing changed), or a database holding every acknowledged
// row, which takes a write and reopens with it: never an open that silently lost commits. The
// saved module log and call-id ledger are conveniences: damaged, the database must open anyway.
// `npm test` flips a seeded sample of header bytes; `npm run test:crash` flips each of the first
// HEADER_BYTES bytes of every file, plus a sample of bytes further in. Two cases run at a time.
import { cpSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LightconeError, StorageError } from '../../src/errors.ts';
import { databaseDir, openDatabase } from '../../src/node/open-database.ts';
import { BANK_DIR, removeTempDirs, tempDir } from '../helpers/paths.ts';
import { prng } from '../helpers/prng.ts';
import { Figures, LONG, size, suiteSeed } from './figures.ts';

/** Every header of the folder's files fits in it (snapshot 32, segment 16 + first frame 20, meta 16). */
const HEADER_BYTES = 40;
const seed = suiteSeed(20_250_902);
const figures = new Figures('damaged-files', seed);

afterAll(() => {
  figures.report();
  removeTempDirs();
});

type Rows = { accounts: Record<string, unknown>[]; audit: Record<string, unknown>[] };

async function readRows(db: { sql(q: string): Promise<Record<string, unknown>[]> }): Promise<Rows> {
  const byId = (a: Record<string, unknown>, b: Record<string, unknown>) => Number((a.id as bigint) - (b.id as bigint));
  return { accounts: (await db.sql('SELECT * FROM account')).sort(byId), audit: (await db.sql('SELECT * FROM audit')).sort(byId) };
}

/** Regular files of a folder, recursively, as paths relative to it. */
function filesOf(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

interface Case {
  file: string;
  offset: number;
  mask: number;
}

describe('a damaged byte in any file of the database folder', () => {
  let pristine: string;
  let expected: Rows;
  let files: string[];
  const cases: Case[] = [];

  beforeAll(async () => {
    pristine = tempDir('lightcone-damage-');
    // Snapshots every 5 commits; 17 commits, so the newest snapshot is followed by log records
    // that only the snapshot's lsn places correctly.
    const db = await openDatabase({ dataDir: pristine, name: 'bank', module: BANK_DIR, snapshotEvery: 5 });
    for (let a = 1; a <= 4; a++) await db.call('open_account', [BigInt(a), `owner${a}`, 1000n]);
    for (let i = 1; i <= 13; i++) await db.call('transfer', [BigInt(1 + (i % 4)), BigInt(1 + ((i + 1) % 4)), BigInt(i)], { callId: `transfer-${i}` });
    expected = await readRows(db);
    await db.close();
    files = filesOf(databaseDir(pristine, 'bank'));

    const rand = prng(seed);
    const masks = [0x01, 0x80, 0xff, 0x10];
    const all: Case[] = [];
    for (const file of files) {
      const length = statSync(join(databaseDir(pristine, 'bank'), file)).size;
      for (let offset = 0; offset < Math.min(HEADER_BYTES, length); offset++) all.push({ file, offset, mask: masks[offset % masks.length]! });
      // Further in (image pages, later frames, meta values): a seeded sample.
      for (let k = 0; k < 6 && length > HEADER_BYTES; k++) {
        all.push({ file, offset: HEADER_BYTES + Math.floor(rand() * (length - HEADER_BYTES)), mask: 1 << Math.floor(rand() * 8) });
      }
    }
    if (LONG) cases.push(...all);
    else {
      // Cheap: a seeded sample, at least one byte of every file.
      for (const file of files) cases.push(all.find((c) => c.file === file)!);
      while (cases.length < 40) cases.push(all[Math.floor(rand() * all.length)]!);
    }
  }, 60_000);

  it(
    `each damaged byte is a named StorageError or a database with every row (seed ${seed}; ${size('a sample', 'every header byte')})`,
    async () => {
      expect(files.some((f) => /snapshot/.test(f))).toBe(true);
      expect(files.some((f) => /^log-/.test(f))).toBe(true);
      const failures: string[] = [];
      const runCase = async (c: Case): Promise<void> => {
        const where = `${c.file} byte ${c.offset} ^ 0x${c.mask.toString(16)} (seed ${seed})`;
        const dataDir = tempDir('lightcone-damaged-');
        cpSync(pristine, dataDir, { recursive: true });
        const path = join(databaseDir(dataDir, 'bank'), c.file);
        const bytes = readFileSync(path);
        bytes[c.offset] = bytes[c.offset]! ^ c.mask;
        writeFileSync(path, bytes);
        figures.add('damaged-byte cases');

        const outcome = await openDatabase({ dataDir, name: 'bank' }).then(
          (db) => ({ db }),
          (error: unknown) => ({ error }),
        );
        if ('error' in outcome) {
          const e = outcome.error;
          const named = e instanceof StorageError && /^[A-Z][A-Z_]+$/.test(e.code);
          const essential = !/logs|calls/.test(c.file);
          if (named && essential) {
            figures.add('refused with StorageError');
          } else {
            failures.push(
              `${where}: ${named ? 'a damaged module log or call-id ledger must not block the database' : 'not a named StorageError'}: ${e instanceof LightconeError ? `${e.name} ${e.code}` : String((e as Error)?.name)}: ${(e as Error)?.message}`,
            );
          }
          return;
        }
        const db = outcome.db;
        try {
          const rows = await readRows(db);
          const lost = expected.audit.length - rows.audit.filter((r) => expected.audit.some((x) => x.id === r.id)).length;
          figures.add('rows lost', Math.max(0, lost));
          try {
            expect(rows).toEqual(expected);
          } catch {
            failures.push(`${where}: opened without error but with different rows (${rows.audit.length} of ${expected.audit.length} audit rows)`);
            return;
          }
          // The repaired database takes a write, and reopens with it: checked for every damaged
          // snapshot and log byte, and every other byte of the rest (each open starts a thread).
          if (!(/snapshot|^log-/.test(c.file) || c.offset % 2 === 0)) {
            figures.add('opened with every row');
            return;
          }
          await db.call('deposit', [1n, 1n]);
        } finally {
          await db.close().catch(() => {});
        }
        const again = await openDatabase({ dataDir, name: 'bank' }).catch((e: unknown) => e);
        if (again instanceof Error) {
          failures.push(`${where}: opened once, then refused on the next open: ${again.message}`);
          return;
        }
        try {
          const rows = await readRows(again as Awaited<ReturnType<typeof openDatabase>>);
          if (rows.accounts.find((r) => r.id === 1n)?.balance !== (expected.accounts.find((r) => r.id === 1n)!.balance as bigint) + 1n || rows.audit.length !== expected.audit.length) {
            failures.push(`${where}: the write after the repair, or earlier rows, did not survive a reopen`);
          } else figures.add('opened with every row');
        } finally {
          await (again as Awaited<ReturnType<typeof openDatabase>>).close();
        }
      };
      // Two at a time: each open starts an engine thread, and the machine has two cores.
      const queue = [...cases];
      const lane = async (): Promise<void> => {
        for (let c = queue.shift(); c !== undefined; c = queue.shift()) await runCase(c);
      };
      await Promise.all([lane(), lane()]);
      figures.zero('rows lost');
      expect(failures, `${failures.length} of ${cases.length} cases failed (seed ${seed})`).toEqual([]);
    },
    size(120_000, 600_000),
  );
});
