// Drives the demo chat page (demo/): open it on a database, set a name, send, read the list.
import { expect, type Page } from '@playwright/test';

/** What the page exposes for tests (`globalThis.lightcone`, see demo/chat.ts). */
export interface PageHandle {
  db: import('../src/client/connect.ts').BrowserDatabase;
  me: string;
  /** Whether the page's database has its call lane open (its calls go straight to the engine worker). */
  callLaneOpen(): boolean;
}

/** Opens the chat on database `db` and waits until it is connected and its rows arrived. */
export async function openChat(page: Page, db: string, query = ''): Promise<void> {
  await page.goto(`/chat.html?db=${db}${query}`);
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'connected', { timeout: 20_000 });
  await expect(page.locator('#messages')).toHaveAttribute('data-ready', 'true');
}

export async function setName(page: Page, name: string): Promise<void> {
  await page.fill('#name', name);
  await page.click('#name-form button');
  await expect(page.locator('#name-form')).not.toHaveAttribute('data-busy', 'true');
}

/** Sends a message through the form (does not wait for the call to finish). */
export async function send(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.click('#message-form button');
}

/** The texts of the message list, in order. */
export function texts(page: Page) {
  return page.locator('#messages li .text');
}
