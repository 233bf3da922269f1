#!/usr/bin/env node
// The `lightcone` command. The CLI is TypeScript under src/cli, bundled to dist/ by `npm install`
// (the `prepare` script); if dist/ is missing, build it first.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli.js');
if (!existsSync(cli)) execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
// A reader that stops early (`lightcone sql … | head`) is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
const { main } = await import(cli);
process.exitCode = await main(process.argv.slice(2));
