// Seeded kill -9 at random points under concurrent load, on a file-backed database in a child
// process: several callers transfer money at once, the parent records every call the child saw
// acknowledged (durable), SIGKILLs it (while it opens, under load, or while it closes), reopens
// the database and checks that every acknowledged transfer is there, none twice, none torn, the
// total balance is unchanged and auto-increment ids are never given out again. Round after round
// on the same data directory. Replay a failure with LIGHTCONE_SEED=<the seed it prints>.
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/node/open-database.ts';
import { killLineChildren, spawnLineChild } from '../helpers/line-child.ts';
import { BANK_DIR, ROOT, removeTempDirs, tempDir } from '../helpers/paths.ts';
import { prng } from '../helpers/prng.ts';
import { transferOf } from './bank-model.mjs';
import { Figures, size, suiteSeed } from './figures.ts';

const LOAD = join(ROOT, 'test', 'reliability', 'bank-load.mjs');
const ACCOUNTS = 6;
const INITIAL = 10n ** 15n;
const seed = suiteSeed(20_250_901);
const ROUNDS = size(4, 24);
const figures = new Figures('kill-under-load', seed);

afterEach(killLineChildren);
afterAll(() => {
  figures.report();
  removeTempDirs();
});

type KillPoint = { at: 'opening'; afterMs: number } | { at: 'load'; afterAcks: number; extraMs: number } | { at: 'closing'; calls: number; afterMs: number };

interface Plan {
  callers: number;
  snapshotEvery: number | undefined;
  kill: KillPoint;
}

function planRound(rand: () => number): Plan {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const r = rand();
  const kill: KillPoint =
    r < 0.1
      ? { at: 'opening', afterMs: Math.floor(rand() * 400) }
      : r < 0.25
        ? { at: 'closing', calls: 1 + Math.floor(rand() * 80), afterMs: Math.floor(rand() * 20) }
        : { at: 'load', afterAcks: Math.floor(rand() * 200), extraMs: Math.floor(rand() * 8) };
  return { callers: 1 + Math.floor(rand() * 8), snapshotEvery: pick([2, 3, 7, 25, 100, undefined]), kill };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('seeded kill -9 under concurrent load (bank transfers, file durability)', () => {
  it(
    `${ROUNDS} kills at random points lose no acknowledged transfer, apply none twice, keep the total balance and never reuse an id (seed ${seed})`,
    async () => {
      const rand = prng(seed);
      const dataDir = tempDir('lightcone-kill-');
      const setup = await openDatabase({ dataDir, name: 'bank', module: BANK_DIR });
      for (let a = 1; a <= ACCOUNTS; a++) await setup.call('open_account', [BigInt(a), `owner${a}`, INITIAL]);
      await setup.close();

      /** Transfer ids known durable (present at the last check), and the largest audit id seen. */
      const durable = new Set<number>();
      let maxAuditId = 0n;
      let base = 1;

      for (let round = 0; round < ROUNDS; round++) {
        const plan = planRound(rand);
        const where = `seed ${seed}, round ${round}, ${JSON.stringify(plan)} (replay: LIGHTCONE_SEED=${seed})`;
        const acked: number[] = [];
        const child = spawnLineChild(
          LOAD,
          [
            JSON.stringify({
              dataDir,
              callers: plan.callers,
              base,
              accounts: ACCOUNTS,
              ...(plan.snapshotEvery ? { snapshotEvery: plan.snapshotEvery } : {}),
              ...(plan.kill.at === 'closing' ? { maxCalls: plan.kill.calls } : {}),
            }),
          ],
          (line) => {
            if (line.startsWith('ack ')) acked.push(Number(line.slice(4)));
          },
        );
        const k = plan.kill;
        if (k.at === 'opening') await sleep(k.afterMs);
        else if (k.at === 'load') {
          await child.until(() => acked.length >= k.afterAcks);
          await sleep(k.extraMs);
        } else {
          await child.until(() => child.lines.includes('closing'));
          await sleep(k.afterMs);
        }
        child.child.kill('SIGKILL');
        const exit = await child.exited;
        // A child that finished on its own before the kill (a short close) is a valid round too.
        expect(exit.signal === 'SIGKILL' || exit.code === 0, `${where}: ${exit.stderr}`).toBe(true);
        figures.add('crash points tried');
        figures.add(`killed ${k.at}`);
        figures.add('acknowledged calls checked', acked.length);

        // Reopen and check everything.
        const db = await openDatabase({ dataDir, name: 'bank' });
        try {
          const audit = (await db.sql('SELECT id, from_id, to_id, amount FROM audit')).map((r) => ({
            id: r.id as bigint,
            from: r.from_id as bigint,
            to: r.to_id as bigint,
            amount: r.amount as bigint,
          }));
          const applied = new Set<number>();
          for (const row of audit) {
            const t = transferOf(Number(row.amount), ACCOUNTS);
            expect({ from: row.from, to: row.to }, `${where}: audit row ${row.id} is not transfer ${row.amount}`).toEqual({ from: t.from, to: t.to });
            expect(applied.has(Number(row.amount)), `${where}: transfer ${row.amount} applied twice`).toBe(false);
            applied.add(Number(row.amount));
          }
          const lost = [...durable, ...acked].filter((id) => !applied.has(id));
          figures.add('rows lost', lost.length);
          expect(lost, `${where}: acknowledged transfers missing after the kill`).toEqual([]);

          // Each caller runs one call at a time: what it applied this round is a prefix of its
          // calls, at least every acknowledged one and at most one more (the call in flight).
          for (let c = 0; c < plan.callers; c++) {
            const mine = [...applied].filter((id) => id >= base && (id - base) % plan.callers === c).map((id) => (id - base - c) / plan.callers);
            mine.sort((x, y) => x - y);
            const ackedMine = acked.filter((id) => (id - base) % plan.callers === c).length;
            expect(mine, `${where}: caller ${c} applied calls are not a prefix`).toEqual(mine.map((_, j) => j));
            expect(mine.length, `${where}: caller ${c}`).toBeGreaterThanOrEqual(ackedMine);
            expect(mine.length, `${where}: caller ${c}`).toBeLessThanOrEqual(ackedMine + 1);
          }
          figures.add('in-flight calls that landed', applied.size - durable.size - acked.filter((id) => !durable.has(id)).length);

          // Balances follow from the audit rows (no torn transfer) and the total is unchanged.
          const expected = new Map<bigint, bigint>();
          for (let a = 1; a <= ACCOUNTS; a++) expected.set(BigInt(a), INITIAL);
          for (const row of audit) {
            expected.set(row.from, expected.get(row.from)! - row.amount);
            expected.set(row.to, expected.get(row.to)! + row.amount);
          }
          const balances = new Map((await db.sql('SELECT id, balance FROM account')).map((r) => [r.id as bigint, r.balance as bigint]));
          expect(balances, `${where}: balances do not match the audit rows`).toEqual(expected);
          expect([...balances.values()].reduce((x, y) => x + y, 0n)).toBe(BigInt(ACCOUNTS) * INITIAL);

          // Ids given to rows that became durable are never given out again.
          const newIds = audit.filter((row) => !durable.has(Number(row.amount))).map((row) => row.id);
          for (const id of newIds) expect(id, `${where}: audit id reused`).toBeGreaterThan(maxAuditId);
          for (const row of audit) if (row.id > maxAuditId) maxAuditId = row.id;

          // The database takes writes again, and the next id is a new one.
          const next = Math.max(base, ...applied, ...acked) + 1;
          const t = transferOf(next, ACCOUNTS);
          await db.call('transfer', [t.from, t.to, t.amount]);
          const [mine] = await db.sql(`SELECT id FROM audit WHERE amount = ${next}`);
          expect(mine!.id as bigint, `${where}: the first id after recovery was given out before`).toBeGreaterThan(maxAuditId);
          maxAuditId = mine!.id as bigint;
          for (const id of applied) durable.add(id);
          durable.add(next);
          base = next + 1;
        } finally {
          await db.close();
        }
      }
      figures.zero('rows lost');
    },
    size(60_000, 600_000),
  );
});
