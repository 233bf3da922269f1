// A module's strings go through the host's TextEncoder/TextDecoder (short ASCII by hand, the rest
// native): what a module writes and reads is what the platform's codecs would give.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type NodeDatabase } from '../src/node/open-database.ts';

let db: NodeDatabase;
beforeAll(async () => {
  db = await openDatabase({ name: 'text', module: 'test/fixtures/text.ts' });
});
afterAll(async () => {
  await db.close();
});

const ascii = (n: number) => Array.from({ length: n }, (_, i) => String.fromCharCode(32 + (i % 95))).join('');
const texts = ['', 'item-7', ascii(128), ascii(129), 'héllo', '日本語 😀', `${ascii(127)}é`];

describe('strings in a module', () => {
  it('sees the host’s codecs in place of the realm’s', async () => {
    await db.call('probe', {});
    expect(await db.sql('SELECT text FROM note WHERE id = 0')).toEqual([{ text: 'false false true' }]);
  });

  it('writes, reads and re-encodes strings as the platform would, non-ASCII included', async () => {
    for (const [i, text] of texts.entries()) {
      await db.call('put', { id: 100 + i, text });
      await db.call('copy', { from: 100 + i, to: 200 + i });
      expect(await db.sql(`SELECT text FROM note WHERE id = ${100 + i}`)).toEqual([{ text }]);
      expect(await db.sql(`SELECT text FROM note WHERE id = ${200 + i}`)).toEqual([{ text: `${new TextEncoder().encode(text).length}:${text}` }]);
    }
  });

  it('stores a lone surrogate made in the module as U+FFFD, as TextEncoder does', async () => {
    await db.call('lone', { id: 300 });
    expect(await db.sql('SELECT text FROM note WHERE id = 300')).toEqual([{ text: 'lone \ufffd surrogate' }]);
  });
});
