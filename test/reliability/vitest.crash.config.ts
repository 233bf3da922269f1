// Vitest configuration of `npm run test:crash` (scripts/crash.mjs sets LIGHTCONE_RELIABILITY=long):
// the reliability suite at full size, plus the long cases (*.crash.ts) that `npm test` leaves out.
// Two files at a time (CI has two cores); no case depends on timing.
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
    maxWorkers: 2,
    globalSetup: ['test/global-setup.ts'],
  },
});
