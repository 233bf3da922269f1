// examples/bank (a two-file module): accounts, transfers that are all-or-nothing, seeding, a
// random walk of transfers that must preserve the total, and durability across close/reopen.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Identity, Timestamp } from 'spacetimedb';
import { openDatabase, type NodeDatabase } from '../src/node/open-database.ts';
import { bundleModule } from '../src/host/bundle.ts';
import { SenderError, UsageError } from '../src/errors.ts';
import { BANK_DIR, removeTempDirs, tempDir } from './helpers/paths.ts';
import { prng as mulberry32 } from './helpers/prng.ts';

interface Account {
  id: bigint;
  owner: string;
  balance: bigint;
}
interface Audit {
  id: bigint;
  from_id: bigint;
  to_id: bigint;
  amount: bigint;
  sender: Identity;
  at: Timestamp;
}

async function accounts(db: NodeDatabase): Promise<Map<bigint, Account>> {
  const rows = (await db.sql('SELECT * FROM account')) as unknown as Account[];
  return new Map(rows.map((a) => [a.id, a]));
}

async function balances(db: NodeDatabase): Promise<Record<string, bigint>> {
  const out: Record<string, bigint> = {};
  for (const [id, a] of await accounts(db)) out[String(id)] = a.balance;
  return out;
}

async function audits(db: NodeDatabase): Promise<Audit[]> {
  const rows = (await db.sql('SELECT * FROM audit')) as unknown as Audit[];
  return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

async function total(db: NodeDatabase): Promise<bigint> {
  let sum = 0n;
  for (const a of (await accounts(db)).values()) sum += a.balance;
  return sum;
}

afterAll(removeTempDirs);

describe('bank in memory', () => {
  let code: string;
  let db: NodeDatabase;
  beforeAll(async () => {
    code = (await bundleModule(BANK_DIR)).code;
  });
  beforeEach(async () => {
    db = await openDatabase({ name: 'bank', code });
  });
  afterEach(async () => {
    await db.close();
  });

  it('the module folder is bundled from its entry, with the schema from the second file', async () => {
    const d = await db.describe();
    expect(d.tables.map((t) => t.name).sort()).toEqual(['account', 'audit']);
  });

  it('open_account creates accounts; a duplicate id is a SenderError', async () => {
    await db.call('open_account', { id: 1n, owner: 'ann', balance: 100n });
    await db.call('open_account', [2, 'bob', '50']);
    expect(await accounts(db)).toEqual(
      new Map([
        [1n, { id: 1n, owner: 'ann', balance: 100n }],
        [2n, { id: 2n, owner: 'bob', balance: 50n }],
      ]),
    );
    const err = await db.call('open_account', { id: 1n, owner: 'eve', balance: 1n }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SenderError);
    expect((err as Error).message).toBe('Account 1 already exists');
    expect((await accounts(db)).get(1n)?.owner).toBe('ann');
  });

  it('transfer moves money and writes one audit row', async () => {
    await db.call('open_account', { id: 1n, owner: 'ann', balance: 100n });
    await db.call('open_account', { id: 2n, owner: 'bob', balance: 50n });
    const sender = `c200${'5e'.repeat(30)}`;
    await db.call('transfer', { from: 1n, to: 2n, amount: 30n }, { sender });
    expect(await balances(db)).toEqual({ '1': 70n, '2': 80n });
    const log = await audits(db);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ id: 1n, from_id: 1n, to_id: 2n, amount: 30n });
    expect(log[0]!.sender.toHexString()).toBe(sender);
    expect(log[0]!.at).toBeInstanceOf(Timestamp);
    // The whole balance can move; so can zero.
    await db.call('transfer', { from: 1n, to: 2n, amount: 70n });
    await db.call('transfer', { from: 1n, to: 2n, amount: 0n });
    expect(await balances(db)).toEqual({ '1': 0n, '2': 150n });
    expect((await audits(db)).map((a) => a.id)).toEqual([1n, 2n, 3n]);
  });

  it('insufficient funds: SenderError, both balances unchanged, no audit row', async () => {
    await db.call('open_account', { id: 1n, owner: 'ann', balance: 100n });
    await db.call('open_account', { id: 2n, owner: 'bob', balance: 50n });
    const err = await db.call('transfer', { from: 2n, to: 1n, amount: 51n }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SenderError);
    expect((err as Error).message).toBe('Insufficient funds');
    expect(await balances(db)).toEqual({ '1': 100n, '2': 50n });
    expect(await audits(db)).toEqual([]);
  });

  it('overflow of the target, a missing account and a self-transfer fail without partial updates', async () => {
    const U64_MAX = (1n << 64n) - 1n;
    await db.call('open_account', { id: 1n, owner: 'ann', balance: 10n });
    await db.call('open_account', { id: 2n, owner: 'rich', balance: U64_MAX - 5n });
    const cases: [unknown, string][] = [
      [{ from: 1n, to: 2n, amount: 6n }, 'Balance overflow'],
      [{ from: 1n, to: 9n, amount: 1n }, 'Account 9 does not exist'],
      [{ from: 9n, to: 1n, amount: 1n }, 'Account 9 does not exist'],
      [{ from: 1n, to: 1n, amount: 1n }, 'Cannot transfer to the same account'],
    ];
    for (const [args, message] of cases) {
      const err = await db.call('transfer', args).catch((e: unknown) => e);
      expect(err, message).toBeInstanceOf(SenderError);
      expect((err as Error).message).toBe(message);
    }
    expect(await balances(db)).toEqual({ '1': 10n, '2': U64_MAX - 5n });
    expect(await audits(db)).toEqual([]);
    await db.call('transfer', { from: 1n, to: 2n, amount: 5n });
    expect((await balances(db))['2']).toBe(U64_MAX);
  });

  it('deposit adds to a balance; u64 overflow and a negative amount are refused', async () => {
    await db.call('open_account', { id: 1n, owner: 'ann', balance: 1n });
    await db.call('deposit', { id: 1n, amount: 41n });
    expect((await balances(db))['1']).toBe(42n);
    const over = await db.call('deposit', { id: 1n, amount: (1n << 64n) - 1n }).catch((e: unknown) => e);
    expect(over).toBeInstanceOf(SenderError);
    expect((over as Error).message).toBe('Balance overflow');
    const negative = await db.call('deposit', { id: 1n, amount: -1n }).catch((e: unknown) => e);
    expect(negative).toBeInstanceOf(UsageError);
    expect((negative as Error).message).toMatch(/amount/);
    expect((await balances(db))['1']).toBe(42n);
  });

  it('seed(n) opens accounts 1..n with 1000 each and skips existing ones', async () => {
    await db.call('open_account', { id: 3n, owner: 'mine', balance: 7n });
    await db.call('seed', { n: 50 });
    const all = await accounts(db);
    expect(all.size).toBe(50);
    expect(all.get(3n)).toEqual({ id: 3n, owner: 'mine', balance: 7n });
    expect(all.get(50n)).toEqual({ id: 50n, owner: 'owner_50', balance: 1000n });
    expect(all.get(1n)).toEqual({ id: 1n, owner: 'owner_1', balance: 1000n });
    expect(await total(db)).toBe(49n * 1000n + 7n);
    expect((await db.logs()).some((l) => l.message === 'Seeded 49 accounts (50 total)')).toBe(true);
    await db.call('seed', { n: 50 });
    expect((await accounts(db)).size).toBe(50);
    expect((await db.logs()).some((l) => l.message === 'Seeded 0 accounts (50 total)')).toBe(true);
  });

  it('random transfers preserve the total and match a model of the balances', async () => {
    const seed = 0x5eed_1234;
    const rand = mulberry32(seed);
    const n = 20;
    await db.call('seed', { n });
    const model = new Map<bigint, bigint>();
    for (let i = 1n; i <= BigInt(n); i++) model.set(i, 1000n);
    let ok = 0;
    let refused = 0;
    let moved = 0n;
    for (let step = 0; step < 300; step++) {
      const from = BigInt(1 + Math.floor(rand() * n));
      const to = BigInt(1 + Math.floor(rand() * n));
      const amount = BigInt(Math.floor(rand() * 1500));
      const expectFail = from === to || model.get(from)! < amount;
      const err = await db.call('transfer', { from, to, amount }).catch((e: unknown) => e);
      if (expectFail) {
        expect(err, `seed ${seed} step ${step}: transfer ${from}->${to} of ${amount} should fail`).toBeInstanceOf(SenderError);
        refused++;
      } else {
        expect(err, `seed ${seed} step ${step}: transfer ${from}->${to} of ${amount} should succeed`).toBeUndefined();
        model.set(from, model.get(from)! - amount);
        model.set(to, model.get(to)! + amount);
        moved += amount;
        ok++;
      }
    }
    expect(ok, `seed ${seed}: the walk exercised successes`).toBeGreaterThan(50);
    expect(refused, `seed ${seed}: the walk exercised failures`).toBeGreaterThan(10);
    expect(await total(db), `seed ${seed}: total preserved`).toBe(BigInt(n) * 1000n);
    const actual = await accounts(db);
    for (const [id, balance] of model) {
      expect(actual.get(id)?.balance, `seed ${seed}: balance of account ${id}`).toBe(balance);
    }
    const log = await audits(db);
    expect(log, `seed ${seed}: one audit row per successful transfer`).toHaveLength(ok);
    expect(
      log.reduce((sum, a) => sum + a.amount, 0n),
      `seed ${seed}: audited amounts`,
    ).toBe(moved);
  });
});

describe('bank with a data directory', () => {
  it('accounts, balances and audit rows survive close and reopen', async () => {
    const dataDir = tempDir('lightcone-bank-');
    const db1 = await openDatabase({ name: 'bank', dataDir, module: BANK_DIR });
    await db1.call('seed', { n: 10 });
    await db1.call('transfer', { from: 1n, to: 2n, amount: 250n });
    await db1.call('transfer', { from: 3n, to: 2n, amount: 1000n });
    await db1.call('transfer', { from: 3n, to: 4n, amount: 1n }).catch(() => {}); // insufficient: nothing kept
    const before = { balances: await balances(db1), audits: (await audits(db1)).map((a) => [a.id, a.from_id, a.to_id, a.amount]) };
    await db1.close();

    const db2 = await openDatabase({ name: 'bank', dataDir, module: BANK_DIR });
    try {
      expect(db2.published).toBe('unchanged');
      expect(await balances(db2)).toEqual(before.balances);
      expect(before.balances).toMatchObject({ '1': 750n, '2': 2250n, '3': 0n, '4': 1000n });
      expect((await audits(db2)).map((a) => [a.id, a.from_id, a.to_id, a.amount])).toEqual(before.audits);
      expect(before.audits).toHaveLength(2);
      expect(await total(db2)).toBe(10_000n);
      // It keeps working after the reopen.
      await db2.call('transfer', { from: 2n, to: 3n, amount: 5n });
    } finally {
      await db2.close();
    }
    const db3 = await openDatabase({ name: 'bank', dataDir });
    try {
      expect((await balances(db3))['3']).toBe(5n);
      expect(await audits(db3)).toHaveLength(3);
    } finally {
      await db3.close();
    }
  });
});
