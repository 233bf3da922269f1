// `npm run test:crash`: the reliability suite at full size (LIGHTCONE_RELIABILITY=long) — seeded
// kill -9 rounds, the sustained-load bounds, every header byte damaged, SQL and argument fuzzing
// (vitest, test/reliability/), then the browser worker killed at each IndexedDB step (Playwright,
// e2e/worker-kill.spec.ts) — and a table of the figures each suite printed.
//
// LIGHTCONE_SEED=<n> replays the randomized suites with another seed (each failure prints its).
// `-- --node` or `-- --browser` runs one half only.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const only = process.argv.includes('--node') ? 'node' : process.argv.includes('--browser') ? 'browser' : undefined;
const figuresDir = mkdtempSync(join(tmpdir(), 'lightcone-figures-'));
const env = { ...process.env, LIGHTCONE_RELIABILITY: 'long', LIGHTCONE_FIGURES_DIR: figuresDir };
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

const steps = [
  { name: 'node (vitest)', part: 'node', args: ['vitest', 'run', '--config', 'test/reliability/vitest.crash.config.ts'] },
  { name: 'browser (playwright)', part: 'browser', args: ['playwright', 'test', 'e2e/worker-kill.spec.ts'] },
].filter((s) => only === undefined || s.part === only);

const started = Date.now();
const results = [];
for (const step of steps) {
  const t0 = Date.now();
  const r = spawnSync(npx, step.args, { cwd: root, env, stdio: 'inherit' });
  results.push({ name: step.name, ok: r.status === 0, seconds: (Date.now() - t0) / 1000 });
}

const suites = readdirSync(figuresDir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(figuresDir, f), 'utf8')));
rmSync(figuresDir, { recursive: true, force: true });

console.log('\nReliability figures (npm run test:crash)\n');
for (const s of suites) {
  console.log(`  ${s.suite} (seed ${s.seed}, ${s.seconds.toFixed(0)} s)`);
  for (const [k, v] of Object.entries(s.figures)) console.log(`    ${k.padEnd(40)} ${v}`);
}
console.log('');
for (const r of results) console.log(`  ${r.ok ? 'passed' : 'FAILED'}  ${r.name}  ${r.seconds.toFixed(0)} s`);
console.log(`  total ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
