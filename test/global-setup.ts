// Vitest globalSetup: builds dist/ (the CLI and `lightcone/node`) from the current src/ once per
// run, so that tests spawning `bin/lightcone.js` or importing `dist/node.js` in a child process
// exercise the code under test, not a stale bundle.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
}
