// `npm run bench`: runs the Node workloads and prints one table; writes bench/results/latest.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { runStore } from './store.ts';
import { runLive } from './live.ts';
import type { Result } from './measure.ts';

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const results: Result[] = [...(only === 'live' ? [] : await runStore({ quick })), ...(only === 'store' ? [] : await runLive({ quick }))];
const fmt = (x: number | null) => (x === null ? '' : x >= 100 ? x.toFixed(0) : x.toFixed(2));
const rows = results.map((r) => [r.workload, r.system, `${fmt(r.median)} ${r.unit}`, fmt(r.min), fmt(r.max), fmt(r.ratioToFloor), fmt(r.ratioToLightcone)]);
const head = ['workload', 'system', 'median', 'min', 'max', '× floor', '× lightcone'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
const out = new URL('file://' + process.cwd() + '/bench/results/');
mkdirSync(out, { recursive: true });
writeFileSync(new URL('latest.json', out), JSON.stringify({ date: new Date().toISOString(), node: process.version, quick, durability: 'memory (Node store and live workloads)', results }, null, 2) + '\n');
