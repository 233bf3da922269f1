// The one durability contract suite, against real IndexedDB in Chromium (Node runs it against
// memory, files and fake-indexeddb): every case of src/durability/contract.ts must pass.
import { expect, test } from '@playwright/test';

test('the durability contract passes on Chromium IndexedDB', async ({ page }) => {
  await page.goto('/contract.html');
  const results = await page.evaluate(() => (globalThis as unknown as { contractResults: Promise<{ name: string; ok: boolean; error?: string }[]> }).contractResults);
  const failed = results.filter((r) => !r.ok);
  expect(failed).toEqual([]);
  expect(results.length).toBeGreaterThanOrEqual(15);
});
