// Peer: PGlite (Postgres in WASM) with its `live` extension, in a dedicated worker, as its docs
// recommend: parameterized `query` per write (autocommit), `transaction()` for the transfer, SQL
// set operations for bulk loads. Durability: 'memory' (no dataDir) or 'idb' (`idb://` dataDir,
// relaxedDurability off: each statement's changes are synced to IndexedDB before it resolves).
// `PGlite.create` takes seconds, so the suite keeps PGlite's repetitions small.
import { PGlite } from '@electric-sql/pglite';
import { live, type PGliteWithLive } from '@electric-sql/pglite/live';
import { serve } from '../rpc.ts';
import type { Breakdown, PeerApi } from '../peer.ts';
import { SENDER, item, nowMicros } from '../rows.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS item (id BIGINT PRIMARY KEY, seq BIGINT NOT NULL, grp INTEGER NOT NULL, name TEXT NOT NULL, score BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS item_seq ON item (seq);
CREATE TABLE IF NOT EXISTS account (id BIGINT PRIMARY KEY, owner TEXT NOT NULL, balance BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS account_owner ON account (owner);
CREATE TABLE IF NOT EXISTS audit (id BIGSERIAL PRIMARY KEY, from_id BIGINT NOT NULL, to_id BIGINT NOT NULL, amount BIGINT NOT NULL, sender BYTEA NOT NULL, at BIGINT NOT NULL);
`;

let pg: PGliteWithLive | undefined;

async function create(name: string, durability: string): Promise<PGliteWithLive> {
  const opts = { extensions: { live }, ...(durability === 'idb' ? { dataDir: `idb://${name}` } : {}) };
  return (await PGlite.create(opts)) as unknown as PGliteWithLive;
}

const api: PeerApi = {
  async open(name, durability) {
    pg = await create(name, durability);
    await pg.exec(SCHEMA);
    return durability === 'idb' ? 'IndexedDB (idb://, default durability)' : 'memory (none)';
  },
  async insertOne(id) {
    const r = item(id);
    await pg!.query('INSERT INTO item (id, seq, grp, name, score) VALUES ($1, $2, $3, $4, $5)', [r.id, r.seq, r.grp, r.name, r.score]);
  },
  async insertMany(from, n) {
    await pg!.query(`INSERT INTO item (id, seq, grp, name, score) SELECT i, i, i % 1000, 'item-' || i, i * 7 FROM generate_series($1::bigint, $2::bigint) AS i`, [from, from + n - 1]);
  },
  async seedAccounts(n) {
    await pg!.query(`INSERT INTO account (id, owner, balance) SELECT i, 'owner_' || (i % 100), 1000 FROM generate_series(1, $1::bigint) AS i`, [n]);
  },
  async transfer(from, to, amount) {
    if (from === to) throw new Error('Cannot transfer to the same account');
    await pg!.transaction(async (tx) => {
      const rows = (await tx.query<{ id: unknown; balance: unknown }>('SELECT id, balance FROM account WHERE id = $1 OR id = $2', [from, to])).rows;
      const source = rows.find((r) => Number(r.id) === from);
      const target = rows.find((r) => Number(r.id) === to);
      if (!source) throw new Error(`Account ${from} does not exist`);
      if (!target) throw new Error(`Account ${to} does not exist`);
      if (Number(source.balance) < amount) throw new Error('Insufficient funds');
      await tx.query('UPDATE account SET balance = balance - $2 WHERE id = $1', [from, amount]);
      await tx.query('UPDATE account SET balance = balance + $2 WHERE id = $1', [to, amount]);
      await tx.query('INSERT INTO audit (from_id, to_id, amount, sender, at) VALUES ($1, $2, $3, $4, $5)', [from, to, amount, SENDER, nowMicros()]);
    });
  },
  async count() {
    return Number((await pg!.query<{ n: unknown }>('SELECT count(*) AS n FROM item')).rows[0]!.n);
  },
  async coldOpen(name, durability): Promise<Breakdown> {
    const parts: Breakdown = {};
    let t = performance.now();
    pg = await create(name, durability);
    parts['create (WASM init + load idb fs + start)'] = performance.now() - t;
    t = performance.now();
    if ((await pg.query('SELECT id, seq, grp, name, score FROM item WHERE id = $1', [1])).rows.length !== 1) throw new Error('first query found no row');
    parts['first query'] = performance.now() - t;
    return parts;
  },
  async stats() {
    return { wasmHeap: (pg as unknown as { Module: { HEAPU8: Uint8Array } }).Module.HEAPU8.byteLength };
  },
  async close() {
    await pg?.close();
    pg = undefined;
  },
};

// W6: `live.incrementalQuery` subscriptions on distinct ids, then one UPDATE → last callback.
const subs: { unsubscribe: () => Promise<void> }[] = [];
let fired = new Map<number, number>();

async function liveSetup(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const q = await pg!.live.incrementalQuery({
      query: 'SELECT id, seq, grp, name, score FROM item WHERE id = $1',
      params: [i + 1],
      key: 'id',
      callback: () => {
        if (!fired.has(i + 1)) fired.set(i + 1, performance.now());
      },
    });
    subs.push(q);
  }
}

/** Updates item `id`; resolves with ms from the write to the affected callback, to the last callback, and how many fired. */
async function liveWrite(id: number, waitAllMs: number): Promise<{ affected: number; last: number; callbacks: number }> {
  fired = new Map();
  const t0 = performance.now();
  await pg!.query('UPDATE item SET score = score + 1 WHERE id = $1', [id]);
  const deadline = t0 + waitAllMs;
  while (fired.size < subs.length && performance.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  const times = [...fired.values()];
  return { affected: (fired.get(id) ?? NaN) - t0, last: Math.max(...times) - t0, callbacks: fired.size };
}

async function liveTeardown(): Promise<void> {
  for (const s of subs.splice(0)) await s.unsubscribe();
}

serve({ ...(api as unknown as Record<string, (...a: never[]) => unknown>), liveSetup, liveWrite, liveTeardown } as unknown as Record<string, (...a: never[]) => unknown>);
