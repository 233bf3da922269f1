// A load process for the reliability suite: opens the bank database of a data directory with
// `lightcone/node` (dist/node.js, built by test/global-setup.ts) and keeps several callers busy
// at once, printing what the parent needs to check after it SIGKILLs this process.
//
// Usage: node bank-load.mjs <json options>
//   { dataDir, callers, mode: 'transfers' | 'updates', snapshotEvery?, base?, accounts, maxCalls?, statsMs? }
//   transfers: caller c's j-th call is transfer number id = base + j * callers + c (see
//              bank-model.ts), printed as `ack <id>` once it resolved (durable);
//   updates:   every caller deposits 1 into pseudo-random accounts; `stats <calls> <rss>
//              <arrayBuffers>` every statsMs (a sustained update load over a fixed row count).
// It prints `ready` once open; with maxCalls, `closing` when every caller is done, then `closed`.
import { openDatabase } from '../../dist/node.js';
import { transferOf } from './bank-model.mjs';

const o = JSON.parse(process.argv[2] ?? '{}');
const db = await openDatabase({ dataDir: o.dataDir, name: 'bank', ...(o.snapshotEvery ? { snapshotEvery: o.snapshotEvery } : {}) });
process.stdout.write('ready\n');

let calls = 0;
const max = o.maxCalls ?? Infinity;
const base = o.base ?? 1;
const out = [];
let flushQueued = false;
/** One write per tick for all callers' lines: fewer syscalls, same order. */
function print(line) {
  out.push(line);
  if (flushQueued) return;
  flushQueued = true;
  queueMicrotask(() => {
    flushQueued = false;
    process.stdout.write(`${out.splice(0).join('\n')}\n`);
  });
}

async function transfers(c) {
  for (let j = 0; calls < max; j++) {
    const id = base + j * o.callers + c;
    const t = transferOf(id, o.accounts);
    calls++;
    await db.call('transfer', [t.from, t.to, t.amount]);
    print(`ack ${id}`);
  }
}

async function updates(c) {
  let x = (c + 1) * 2654435761;
  while (calls < max) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    calls++;
    await db.call('deposit', [BigInt(1 + (x % o.accounts)), 1n]);
  }
}

const stats = () => {
  const m = process.memoryUsage();
  print(`stats ${calls} ${m.rss} ${m.arrayBuffers}`);
};
const timer = o.statsMs ? setInterval(stats, o.statsMs) : undefined;
const work = o.mode === 'updates' ? updates : transfers;
await Promise.all(Array.from({ length: o.callers }, (_, c) => work(c)));
clearInterval(timer);
if (o.statsMs) stats();
print('closing');
await new Promise((r) => setTimeout(r, 0));
await db.close();
process.stdout.write('closed\n');
