// examples/todo: items owned by their sender, ownership checks with SenderError, clearing finished
// items, and the text checks.
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Identity, Timestamp } from 'spacetimedb';
import { openDatabase, type NodeDatabase } from '../src/node/open-database.ts';
import { bundleModule } from '../src/host/bundle.ts';
import { SenderError } from '../src/errors.ts';
import { TODO } from './helpers/paths.ts';

interface Todo {
  id: bigint;
  owner: Identity;
  text: string;
  done: boolean;
  created: Timestamp;
}

const ANN = `c200${'a1'.repeat(30)}`;
const BOB = `c200${'b0'.repeat(30)}`;

async function todos(db: NodeDatabase): Promise<Todo[]> {
  const rows = (await db.sql('SELECT * FROM todo')) as unknown as Todo[];
  return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('todo example', () => {
  let code: string;
  let db: NodeDatabase;
  beforeAll(async () => {
    code = (await bundleModule(TODO)).code;
  });
  beforeEach(async () => {
    db = await openDatabase({ name: 'todo', code });
  });
  afterEach(async () => {
    await db.close();
  });

  it('add_todo stores the trimmed text, owned by the sender, at the call time, not done', async () => {
    await db.call('add_todo', { text: '  buy milk ' }, { sender: ANN });
    await db.call('add_todo', ['walk the dog'], { sender: BOB });
    const rows = await todos(db);
    expect(rows.map((r) => [r.id, r.owner.toHexString(), r.text, r.done])).toEqual([
      [1n, ANN, 'buy milk', false],
      [2n, BOB, 'walk the dog', false],
    ]);
    expect(rows[0]!.created.microsSinceUnixEpoch).toBeLessThanOrEqual(rows[1]!.created.microsSinceUnixEpoch);
  });

  it('empty text is refused with a SenderError and stores nothing', async () => {
    const err = await refusal(db.call('add_todo', { text: '   ' }, { sender: ANN }));
    expect(err).toBeInstanceOf(SenderError);
    expect((err as Error).message).toBe('A todo needs some text');
    expect(await todos(db)).toEqual([]);
  });

  it('only the owner may tick, rename or remove an item', async () => {
    await db.call('add_todo', { text: 'mine' }, { sender: ANN });
    for (const [fn, args] of [
      ['set_done', { id: 1n, done: true }],
      ['rename_todo', { id: 1n, text: 'theirs' }],
      ['remove_todo', { id: 1n }],
    ] as const) {
      const err = await refusal(db.call(fn, args, { sender: BOB }));
      expect(err).toBeInstanceOf(SenderError);
      expect((err as Error).message).toBe('Todo 1 belongs to someone else');
    }
    expect((await todos(db)).map((r) => [r.text, r.done])).toEqual([['mine', false]]);
    await db.call('set_done', { id: 1n, done: true }, { sender: ANN });
    await db.call('rename_todo', { id: 1n, text: ' ours ' }, { sender: ANN });
    expect((await todos(db)).map((r) => [r.text, r.done])).toEqual([['ours', true]]);
    await db.call('remove_todo', { id: 1n }, { sender: ANN });
    expect(await todos(db)).toEqual([]);
    const missing = await refusal(db.call('remove_todo', { id: 1n }, { sender: ANN }));
    expect((missing as Error).message).toBe('There is no todo 1');
  });

  it("clear_done removes the caller's finished items only", async () => {
    await db.call('add_todo', { text: 'a' }, { sender: ANN });
    await db.call('add_todo', { text: 'b' }, { sender: ANN });
    await db.call('add_todo', { text: 'c' }, { sender: BOB });
    await db.call('set_done', { id: 1n, done: true }, { sender: ANN });
    await db.call('set_done', { id: 3n, done: true }, { sender: BOB });
    await db.call('clear_done', {}, { sender: ANN });
    expect((await todos(db)).map((r) => r.text)).toEqual(['b', 'c']);
    expect((await db.logs()).map((l) => l.message)).toContain('1 finished todo removed');
  });
});
