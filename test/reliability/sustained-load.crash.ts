// Issue 9, item 1: under a sustained concurrent update load, snapshots must still complete, so the
// commit log is compacted and disk and memory stay bounded. Eight callers in a child process keep
// updating a fixed table of ROWS accounts, CALLS updates in all (about eight times the log size
// that triggers a snapshot), while the parent watches the data directory and the child's memory;
// then the child is SIGKILLed while it closes (one more crash point) and the database must reopen
// with every row. Bounded by work done, not by time. Long-running: `npm run test:crash` only.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { databaseDir, openDatabase } from '../../src/node/open-database.ts';
import { killLineChildren, spawnLineChild } from '../helpers/line-child.ts';
import { BANK_DIR, ROOT, removeTempDirs, tempDir } from '../helpers/paths.ts';
import { Figures } from './figures.ts';

const LOAD = join(ROOT, 'test', 'reliability', 'bank-load.mjs');
const ROWS = 100_000;
const CALLS = 40_000;
const CALLERS = 8;
const MiB = 1024 * 1024;
const figures = new Figures('sustained-load', 0);

afterEach(killLineChildren);
afterAll(() => {
  figures.report();
  removeTempDirs();
});

interface DirSample {
  t: number;
  total: number;
  log: number;
  snapshot: number;
}

/** Sizes in the database folder: everything, the log segments, the largest snapshot file. */
function sample(dir: string, t: number): DirSample {
  const s: DirSample = { t, total: 0, log: 0, snapshot: 0 };
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      let st: import('node:fs').Stats;
      try {
        st = statSync(p);
      } catch {
        continue; // replaced or removed between readdir and stat
      }
      if (st.isDirectory()) walk(p);
      else {
        s.total += st.size;
        if (/^log-/.test(name)) s.log += st.size;
        if (/^snapshot/.test(name) && !name.endsWith('.tmp')) s.snapshot = Math.max(s.snapshot, st.size);
      }
    }
  };
  walk(dir);
  return s;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('sustained concurrent update load (file durability)', () => {
  it(`${CALLERS} callers making ${CALLS} updates to ${ROWS} rows: snapshots complete, the log is compacted, disk and memory stay bounded`, async () => {
    const dataDir = tempDir('lightcone-load-');
    const setup = await openDatabase({ dataDir, name: 'bank', module: BANK_DIR });
    for (let n = 20_000; n <= ROWS; n += 20_000) await setup.call('seed', [n]);
    await setup.close();
    const dir = databaseDir(dataDir, 'bank');
    const before = sample(dir, 0);
    expect(before.snapshot).toBeGreaterThan(1 * MiB);

    const stats: { t: number; calls: number; rss: number; arrayBuffers: number }[] = [];
    const child = spawnLineChild(LOAD, [JSON.stringify({ dataDir, callers: CALLERS, mode: 'updates', accounts: ROWS, statsMs: 250, maxCalls: CALLS })], (line) => {
      const m = /^stats (\d+) (\d+) (\d+)$/.exec(line);
      if (m) stats.push({ t: Date.now(), calls: Number(m[1]), rss: Number(m[2]), arrayBuffers: Number(m[3]) });
    });
    await child.until(() => child.lines.includes('ready'));
    const start = Date.now();
    const samples: DirSample[] = [];
    while (!child.lines.includes('closing') && child.child.exitCode === null) {
      samples.push(sample(dir, Date.now() - start));
      await sleep(250);
    }
    const duration = Date.now() - start;
    child.child.kill('SIGKILL');
    await child.exited;

    const calls = stats.at(-1)?.calls ?? 0;
    // The data's size: the largest image seen (updates may grow it a little).
    const data = Math.max(before.snapshot, ...samples.map((s) => s.snapshot));
    // The log shrinks each time a snapshot completes and the segments it covers are dropped.
    let compactions = 0;
    for (let i = 1; i < samples.length; i++) if (samples[i]!.log < samples[i - 1]!.log) compactions++;
    const maxTotal = Math.max(...samples.map((s) => s.total));
    const maxLog = Math.max(...samples.map((s) => s.log));
    const lateLog = Math.max(...samples.filter((s) => s.t > duration / 2).map((s) => s.log));
    // Memory: after a warm-up quarter of the calls, the child's resident size must not keep growing.
    const warm = stats.find((s) => s.calls >= CALLS / 4);
    const peak = Math.max(...stats.filter((s) => s.calls >= CALLS / 4).map((s) => s.rss));
    const growth = warm ? peak - warm.rss : 0;
    const summary = `${calls} calls in ${(duration / 1000).toFixed(1)} s; data ${mb(data)}; dir max ${mb(maxTotal)}; log max ${mb(maxLog)} (second half ${mb(lateLog)}); ${compactions} compactions; rss ${mb(warm?.rss ?? 0)} -> peak ${mb(peak)}`;
    console.log(`[reliability] sustained-load: ${summary}`);
    figures.add('calls under load', calls);
    figures.add('log compactions seen', compactions);
    figures.add('largest folder size, % of the data', Math.round((maxTotal / data) * 100));
    figures.add('rss growth after warm-up (MiB)', Math.round(growth / MiB));

    expect(calls, summary).toBe(CALLS);
    // Snapshots completed while the callers kept going: the log was compacted again and again.
    expect(compactions, summary).toBeGreaterThanOrEqual(3);
    // Disk: the image, at most one more being written, and a log bounded by the snapshot trigger.
    expect(maxTotal, summary).toBeLessThan(2.5 * data + 4 * MiB);
    expect(lateLog, summary).toBeLessThan(data + 4 * MiB);
    // Memory: at most a couple of images in flight, not one per trigger.
    expect(growth, summary).toBeLessThan(3 * data + 64 * MiB);

    // The SIGKILL at the end lost no row.
    const db = await openDatabase({ dataDir, name: 'bank' });
    try {
      const [count] = await db.sql('SELECT COUNT(*) AS n FROM account');
      expect(count!.n).toBe(BigInt(ROWS));
    } finally {
      await db.close();
    }
  }, 600_000);
});

function mb(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}
