// Run by `prepare` (npm install / npm ci in this repository, never where Lightcone is installed
// as a dependency): `tsc` in node_modules/.bin is the repository's TypeScript (`typescript`, 7,
// the native compiler). The playground's type checker needs the JS compiler too, installed as
// `typescript-js` (npm:typescript@5.x), whose package declares the same `tsc` bin: which of the two
// npm links is a race. This links `tsc` to `typescript` every time, so `npx tsc` and
// `npm run typecheck` always run TypeScript 7. (On Windows npm writes shims, not links: left as npm made them.)
import { existsSync, lstatSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'node_modules', '.bin');
const target = join('..', 'typescript', 'bin', 'tsc');
if (process.platform !== 'win32' && existsSync(join(bin, target))) {
  const link = join(bin, 'tsc');
  let current;
  try {
    current = lstatSync(link).isSymbolicLink() ? readlinkSync(link) : undefined;
  } catch {}
  if (current !== target) {
    rmSync(link, { force: true });
    symlinkSync(target, link);
  }
}
