// A writer process for the crash tests: opens the bank database in a data directory with
// `lightcone/node` (dist/node.js, built by test/global-setup.ts) and calls reducers in a loop,
// printing `ready` once open and then the call number after each call resolves. A resolved call
// is durable, so every number printed must survive a SIGKILL.
//
// Usage: node writer.mjs <dataDir> <name> <mode: deposit|transfer> [snapshotEvery] [maxCalls]
//   deposit:  call i is deposit(1, i)             → balance(1) grows by i
//   transfer: call i is transfer(1, 2, i)         → moves i from account 1 to 2, adds an audit row
import { openDatabase } from '../../dist/node.js';

const [dataDir, name, mode, snapshotEvery, maxCalls] = process.argv.slice(2);
if (!dataDir || !name || (mode !== 'deposit' && mode !== 'transfer')) {
  process.stderr.write('usage: writer.mjs <dataDir> <name> <deposit|transfer> [snapshotEvery] [maxCalls]\n');
  process.exit(2);
}
const db = await openDatabase({ dataDir, name, ...(snapshotEvery ? { snapshotEvery: Number(snapshotEvery) } : {}) });
process.stdout.write('ready\n');
const max = maxCalls ? Number(maxCalls) : Infinity;
for (let i = 1; i <= max; i++) {
  if (mode === 'deposit') await db.call('deposit', [1n, BigInt(i)]);
  else await db.call('transfer', [1n, 2n, BigInt(i)]);
  process.stdout.write(`${i}\n`);
}
await db.close();
process.stdout.write('done\n');
