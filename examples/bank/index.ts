// Entry file of the bank example. The schema is declared in ./schema.ts and
// re-exported here as the default export; every named export of this file is
// a reducer.
import { t, SenderError } from 'spacetimedb/server';
import spacetimedb from './schema';

export default spacetimedb;

const U64_MAX = 0xffff_ffff_ffff_ffffn;
const SEED_BALANCE = 1000n;

/** Narrows the result of `ctx.db.account.id.find(id)`, failing the call when the account is missing. */
function requireAccount<Row>(account: Row | null, id: bigint): Row {
  if (!account) {
    throw new SenderError(`Account ${id} does not exist`);
  }
  return account;
}

export const open_account = spacetimedb.reducer({ id: t.u64(), owner: t.string(), balance: t.u64() }, (ctx, { id, owner, balance }) => {
  if (ctx.db.account.id.find(id)) {
    throw new SenderError(`Account ${id} already exists`);
  }
  ctx.db.account.insert({ id, owner, balance });
  console.log(`Opened account ${id} for ${owner} with balance ${balance}`);
});

export const deposit = spacetimedb.reducer({ id: t.u64(), amount: t.u64() }, (ctx, { id, amount }) => {
  const account = requireAccount(ctx.db.account.id.find(id), id);
  const balance = account.balance + amount;
  if (balance > U64_MAX) {
    throw new SenderError('Balance overflow');
  }
  ctx.db.account.id.update({ ...account, balance });
});

export const transfer = spacetimedb.reducer({ from: t.u64(), to: t.u64(), amount: t.u64() }, (ctx, { from, to, amount }) => {
  if (from === to) {
    throw new SenderError('Cannot transfer to the same account');
  }
  const source = requireAccount(ctx.db.account.id.find(from), from);
  const target = requireAccount(ctx.db.account.id.find(to), to);
  if (source.balance < amount) {
    throw new SenderError('Insufficient funds');
  }
  if (target.balance + amount > U64_MAX) {
    throw new SenderError('Balance overflow');
  }
  ctx.db.account.id.update({ ...source, balance: source.balance - amount });
  ctx.db.account.id.update({ ...target, balance: target.balance + amount });
  ctx.db.audit.insert({
    id: 0n,
    from_id: from,
    to_id: to,
    amount,
    sender: ctx.sender,
    at: ctx.timestamp,
  });
});

// Bulk-opens accounts 1..n (skipping ids that already exist), each owned by
// `owner_<id % 100>` with a balance of 1000. Used by benchmarks.
export const seed = spacetimedb.reducer({ n: t.u32() }, (ctx, { n }) => {
  let opened = 0;
  for (let i = 1; i <= n; i++) {
    const id = BigInt(i);
    if (ctx.db.account.id.find(id)) continue;
    ctx.db.account.insert({ id, owner: `owner_${i % 100}`, balance: SEED_BALANCE });
    opened++;
  }
  console.log(`Seeded ${opened} accounts (${ctx.db.account.count()} total)`);
});
