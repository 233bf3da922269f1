// The bank example from Node: `node examples/node-quickstart.mjs`. Run it again: the accounts
// are kept in ./.lightcone, so each run finds them and bob's balance grows by 5.
import { fileURLToPath } from 'node:url';
import { openDatabase, SenderError } from 'lightcone/node';

const db = await openDatabase({ dataDir: '.lightcone', name: 'bank', module: fileURLToPath(new URL('bank', import.meta.url)) });
if ((await db.sql('SELECT id FROM account WHERE id = 1')).length === 0) {
  await db.call('open_account', { id: 1n, owner: 'alice', balance: 100n });
  await db.call('open_account', [2n, 'bob', 0n]); // positional arguments work too
}
await db.call('deposit', { id: 1n, amount: 5n });
await db.call('transfer', { from: 1n, to: 2n, amount: 5n });
try {
  await db.call('transfer', { from: 2n, to: 1n, amount: 1_000_000n });
} catch (e) {
  if (e instanceof SenderError) console.log(`bob cannot send 1000000: ${e.message}`); // "Insufficient funds"
}
for (const { owner, balance } of await db.sql('SELECT owner, balance FROM account')) console.log(`${owner} has ${balance}`);
const [{ n }] = await db.sql('SELECT COUNT(*) AS n FROM audit');
console.log(`${n} transfer(s) so far; the last log line: ${(await db.logs({ limit: 1 }))[0]?.message}`);
await db.close();
