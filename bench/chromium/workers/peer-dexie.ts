// Peer: Dexie 4 (IndexedDB) in a dedicated worker, as its docs recommend: `add` for a single
// write (one transaction each), `bulkAdd` for bulk loads, `db.transaction('rw', …)` for the
// transfer. Durability: 'idb-default' (Dexie's default: the browser's default durability, which
// Chromium treats as relaxed) or 'idb-strict' (`chromeTransactionDurability: 'strict'`).
import Dexie, { type Table } from 'dexie';
import { serve } from '../rpc.ts';
import type { Breakdown, PeerApi } from '../peer.ts';
import { SENDER, account, item, nowMicros, type Account, type Audit, type Item } from '../rows.ts';

class BenchDb extends Dexie {
  item!: Table<Item, number>;
  account!: Table<Account, number>;
  audit!: Table<Audit, number>;

  constructor(name: string, durability: string) {
    super(name, durability === 'idb-strict' ? { chromeTransactionDurability: 'strict' } : {});
    this.version(1).stores({ item: 'id, seq', account: 'id, owner', audit: '++id' });
  }
}

let db: BenchDb | undefined;
const CHUNK = 10_000;

const api: PeerApi = {
  async open(name, durability) {
    db = new BenchDb(name, durability);
    await db.open();
    return durability === 'idb-strict' ? 'IndexedDB strict' : 'IndexedDB default (relaxed)';
  },
  async insertOne(id) {
    await db!.item.add(item(id));
  },
  async insertMany(from, n) {
    for (let i = 0; i < n; i += CHUNK) {
      const rows: Item[] = [];
      for (let j = i; j < Math.min(n, i + CHUNK); j++) rows.push(item(from + j));
      await db!.item.bulkAdd(rows);
    }
  },
  async seedAccounts(n) {
    for (let i = 1; i <= n; i += CHUNK) {
      const rows: Account[] = [];
      for (let j = i; j <= Math.min(n, i + CHUNK - 1); j++) rows.push(account(j));
      await db!.account.bulkAdd(rows);
    }
  },
  async transfer(from, to, amount) {
    if (from === to) throw new Error('Cannot transfer to the same account');
    const d = db!;
    await d.transaction('rw', d.account, d.audit, async () => {
      const [source, target] = await Promise.all([d.account.get(from), d.account.get(to)]);
      if (!source) throw new Error(`Account ${from} does not exist`);
      if (!target) throw new Error(`Account ${to} does not exist`);
      if (source.balance < amount) throw new Error('Insufficient funds');
      await d.account.bulkPut([
        { ...source, balance: source.balance - amount },
        { ...target, balance: target.balance + amount },
      ]);
      await d.audit.add({ from_id: from, to_id: to, amount, sender: SENDER, at: nowMicros() });
    });
  },
  async count() {
    return db!.item.count();
  },
  async coldOpen(name, durability): Promise<Breakdown> {
    const parts: Breakdown = {};
    let t = performance.now();
    db = new BenchDb(name, durability);
    await db.open();
    parts.open = performance.now() - t;
    t = performance.now();
    if (!(await db.item.get(1))) throw new Error('first query found no row');
    parts['first query'] = performance.now() - t;
    return parts;
  },
  async stats() {
    return { wasmHeap: 0 };
  },
  async close() {
    db?.close();
    db = undefined;
  },
};

serve(api as unknown as Record<string, (...a: never[]) => unknown>);
