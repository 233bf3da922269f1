// Vitest configuration of `npm run test:crash` (scripts/crash.mjs sets LIGHTCONE_RELIABILITY=long):
// the reliability suite at full size, plus the long cases (*.crash.ts) that `npm test` leaves out.
// One file at a time: the crash cases measure time, disk and memory of their own child processes.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export default defineConfig({
  root,
  test: {
    include: ['test/reliability/**/*.test.ts', 'test/reliability/**/*.crash.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    globalSetup: ['test/global-setup.ts'],
  },
});
