// `npm run bench`: runs the Node workloads and the Chromium ones (bench/chromium/), prints one
// table and the targets, writes bench/results/latest.json. `--only=store|live|server|sync|browser|playground` (comma
// separated) runs some parts; `--phases=w123,w1hops,w45,w6,w10,w12,w7,w8` limits the Chromium part.
import { mkdirSync, writeFileSync } from 'node:fs';
import { runStore } from './store.ts';
import { runLive } from './live.ts';
import { runServer } from './server.ts';
import { runSync } from './sync.ts';
import type { Result } from './measure.ts';
import { runBrowser, type BrowserMeta, type BrowserResult, type Phase } from '../chromium/run.ts';
import { checkTargets } from '../chromium/targets.ts';
import { runPlayground } from '../chromium/playground.ts';

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const parts = only?.split(',') ?? ['store', 'live', 'server', 'sync', 'browser', 'playground'];
const phases = process.argv
  .find((a) => a.startsWith('--phases='))
  ?.slice('--phases='.length)
  .split(',') as Phase[] | undefined;
const started = Date.now();
const results: (Result & { durability?: string; note?: string })[] = [...(parts.includes('store') ? await runStore({ quick }) : []), ...(parts.includes('live') ? await runLive({ quick }) : [])];
for (const r of results) r.durability = 'memory (Node)';
if (parts.includes('server')) for (const r of await runServer({ quick })) results.push({ ...r, durability: 'files, fsync (lightcone start)' });
if (parts.includes('sync')) for (const r of await runSync({ quick })) results.push({ ...r, durability: 'server: files, fsync; replicas: memory' });
if (parts.includes('playground')) results.push(...(await runPlayground({ quick })));
let browser: BrowserMeta | undefined;
if (parts.includes('browser')) {
  const b: { results: BrowserResult[]; meta: BrowserMeta } = await runBrowser({ quick, ...(phases ? { phases } : {}) });
  results.push(...b.results);
  browser = b.meta;
}
const fmt = (x: number | null) => (x === null ? '' : x >= 100 ? x.toFixed(0) : x.toFixed(2));
const rows = results.map((r) => [r.workload, r.system, `${fmt(r.median)} ${r.unit}`, fmt(r.min), fmt(r.max), fmt(r.ratioToFloor), fmt(r.ratioToLightcone), r.durability ?? '']);
const head = ['workload', 'system', 'median', 'min', 'max', '× floor', '× lightcone', 'durability'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
const targets = checkTargets(results);
if (browser)
  console.log(
    `\nChromium ${browser.chromium}, persistent on-disk profile; repetitions: ${Object.entries(browser.repetitions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}${quick ? ' (--quick)' : ''}`,
  );
for (const n of browser?.notes ?? []) console.log(`- ${n}`);
if (targets.length) console.log('\nTargets (docs/benchmarks.md §3):');
for (const t of targets) console.log(`  ${t.met ? 'met   ' : 'MISSED'}  ${t.workload}: ${t.target}; measured ${t.measured}`);
console.log(`\n${((Date.now() - started) / 1000).toFixed(0)} s`);
const out = new URL(`file://${process.cwd()}/bench/results/`);
mkdirSync(out, { recursive: true });
writeFileSync(
  new URL('latest.json', out),
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      quick,
      durability: 'memory (Node store and live workloads); per row in Chromium',
      ...(browser ? { chromium: browser.chromium, userAgent: browser.userAgent, persistentProfile: browser.persistentProfile, repetitions: browser.repetitions, notes: browser.notes } : {}),
      targets,
      results,
    },
    null,
    2,
  )}\n`,
);
