// Paths shared by the tests: the repository root, the CLI, the example modules, temp dirs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'bin', 'lightcone.js');
export const CHAT = join(ROOT, 'examples', 'chat', 'index.ts');
export const BANK_DIR = join(ROOT, 'examples', 'bank');
export const TODO = join(ROOT, 'examples', 'todo', 'index.ts');
export const ALL_TYPES = join(ROOT, 'examples', 'all-types', 'index.ts');

/** Temp directories made by `tempDir`, removed by `removeTempDirs`. */
const made: string[] = [];

/** A fresh temp directory (`fs.mkdtempSync`). */
export function tempDir(prefix = 'lightcone-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes every directory `tempDir` made (call from afterAll). */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
