// The page of e2e/sync.spec.ts (demo/sync.html, e2e builds only): connects to a database that
// follows `shop` on the server named by `?server=` (test/fixtures/sync.ts, bundled by the Vite
// plugin as an app would), shows its accounts and items live, the sync status, and exposes
// `globalThis.sync` for the spec to make calls and read how each one settled.
//
// URL: ?server=<http://127.0.0.1:port>&db=<local name>[&transport=dedicated]
import { connect, SenderError, type Row, type SyncStatus } from '../src/index.ts';
import shop from '../test/fixtures/sync.ts?lightcone';

/** How one call made through `sync.call` settled. */
export interface CallRecord {
  fn: string;
  state: 'pending' | 'ok' | 'error';
  error?: { name: string; message: string; senderError: boolean };
}

/** What the page exposes as `globalThis.sync`. */
export interface SyncPage {
  db: import('../src/client/connect.ts').BrowserDatabase;
  calls: CallRecord[];
  /** Makes a call; returns its index in `calls`, which says how it settled. */
  call(fn: string, args: unknown, opts?: { wait?: 'local' | 'server' }): number;
  statuses: SyncStatus[];
}

const params = new URLSearchParams(location.search);
const $ = (id: string) => document.getElementById(id)!;

async function main(): Promise<void> {
  const db = await connect({
    name: params.get('db') ?? 'sync',
    module: shop,
    remote: { uri: params.get('server') ?? '', database: 'shop' },
    transport: params.get('transport') === 'dedicated' ? 'dedicated' : 'auto',
  });
  const accounts = new Map<string, Row>();
  const items = new Map<string, Row>();
  const render = () => {
    $('accounts').replaceChildren(
      ...[...accounts.values()].map((a) => {
        const li = document.createElement('li');
        li.dataset.name = String(a.name);
        li.dataset.balance = String(a.balance);
        li.textContent = `${String(a.name)}: ${String(a.balance)}`;
        return li;
      }),
    );
    $('items').replaceChildren(
      ...[...items.values()]
        .sort((a, b) => (BigInt(a.id as bigint) < BigInt(b.id as bigint) ? -1 : 1))
        .map((i) => {
          const li = document.createElement('li');
          li.textContent = String(i.text);
          return li;
        }),
    );
  };
  const key = (table: string, r: Row) => (table === 'account' ? String(r.name) : String(r.id));
  await db.subscribe(['SELECT * FROM account', 'SELECT * FROM item'], {
    onApplied(initial) {
      accounts.clear();
      items.clear();
      for (const a of initial.account ?? []) accounts.set(key('account', a), a);
      for (const i of initial.item ?? []) items.set(key('item', i), i);
      render();
    },
    onUpdate(update) {
      for (const t of update) {
        const map = t.table === 'account' ? accounts : items;
        for (const r of t.deletes) map.delete(key(t.table, r));
        for (const r of t.inserts) map.set(key(t.table, r), r);
      }
      render();
    },
    onError: (e) => ($('error').textContent = `${e.name}: ${e.message}`),
  }).applied;
  const statuses: SyncStatus[] = [];
  const line = $('sync');
  db.sync!.onStatus((s) => {
    statuses.push(s);
    line.textContent = `${s.state} · ${s.pending} waiting`;
    line.dataset.state = s.state;
    line.dataset.pending = String(s.pending);
  });
  const calls: CallRecord[] = [];
  const page: SyncPage = {
    db,
    calls,
    statuses,
    call(fn, args, opts = {}) {
      const record: CallRecord = { fn, state: 'pending' };
      calls.push(record);
      db.call(fn, args, opts).then(
        () => (record.state = 'ok'),
        (e: Error) => {
          record.state = 'error';
          record.error = { name: e.name, message: e.message, senderError: e instanceof SenderError };
        },
      );
      return calls.length - 1;
    },
  };
  (globalThis as { sync?: SyncPage }).sync = page;
  document.body.dataset.ready = 'true';
}

main().catch((e: Error) => {
  $('error').textContent = `${e.name}: ${e.message}`;
  document.body.dataset.failed = 'true';
});
