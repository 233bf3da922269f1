// The notes example (examples/notes): Yjs documents merged inside a reducer, followed by replicas.
// Two replicas edit the same note while the server is down; once it is back, the server and both
// replicas hold the same bytes, and the text has both edits. The server runs the module in its
// sandboxed engine thread (no Math.random, no Node globals), the replicas in-process.
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { removeTempDirs } from '../helpers/paths.ts';
import { openReplica, syncServer, type SyncServer, type TestReplica } from './harness.ts';

afterAll(removeTempDirs);

const NOTES = 'examples/notes';

/** An update made by a client: `body` loaded into its own Y.Doc (its own clientID), then `edit`. */
function clientEdit(body: Uint8Array, clientID: number, edit: (text: Y.Text) => void): Uint8Array {
  const doc = new Y.Doc();
  doc.clientID = clientID;
  Y.applyUpdate(doc, body);
  const before = Y.encodeStateVector(doc);
  edit(doc.getText('body'));
  return Y.encodeStateAsUpdate(doc, before);
}

function textOf(body: Uint8Array): string {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, body);
  return doc.getText('body').toString();
}

describe('notes: Yjs merged in the reducer, through sync', () => {
  let server: SyncServer;
  const replicas: TestReplica[] = [];
  const replica = async () => {
    const r = await openReplica({ uri: server.url, database: 'shop' }, { module: NOTES });
    replicas.push(r);
    await r.until((s) => s.state === 'online');
    return r;
  };
  const bodyOf = async (r: TestReplica, id: string) => (await r.rows(`SELECT body FROM note WHERE id = '${id}'`))[0]?.body as Uint8Array;
  const serverBody = async (id: string) => {
    const [[hex]] = (await server.rows(`SELECT body FROM note WHERE id = '${id}'`)) as [[string]];
    return Uint8Array.from(hex.replace(/^0x/, '').match(/../g) ?? [], (h) => Number.parseInt(h, 16));
  };
  afterEach(async () => {
    for (const r of replicas.splice(0)) await r.close().catch(() => {});
    await server?.stop().catch(() => {});
  });

  it('two replicas edit one note offline; after the server returns all three hold the same bytes with both edits', async () => {
    server = await syncServer({ module: NOTES });
    const a = await replica();
    const b = await replica();
    await a.replica.call('create_note', { id: 'n1', title: 'plan' });
    const seed = clientEdit(await bodyOf(a, 'n1'), 1, (t) => t.insert(0, 'shared line.'));
    await a.replica.call('edit_note', { id: 'n1', update: seed });
    await vi.waitFor(async () => expect(textOf(await bodyOf(b, 'n1'))).toBe('shared line.'));

    await server.stop();
    await Promise.all([a.until((s) => s.state === 'offline'), b.until((s) => s.state === 'offline')]);
    // Each client builds its update from what its replica shows, with its own Yjs client id.
    const fromA = clientEdit(await bodyOf(a, 'n1'), 101, (t) => t.insert(0, 'from A. '));
    const fromB = clientEdit(await bodyOf(b, 'n1'), 202, (t) => t.insert(t.length, ' from B.'));
    const doneA = a.replica.call('edit_note', { id: 'n1', update: fromA });
    const doneB = b.replica.call('edit_note', { id: 'n1', update: fromB });
    await Promise.all([a.until((s) => s.pending === 1), b.until((s) => s.pending === 1)]);
    // Offline, each replica shows its own edit at once (the reducer ran there), not the other's.
    expect(textOf(await bodyOf(a, 'n1'))).toBe('from A. shared line.');
    expect(textOf(await bodyOf(b, 'n1'))).toBe('shared line. from B.');

    await server.restart();
    await Promise.all([doneA, doneB]);
    const final = await serverBody('n1');
    await vi.waitFor(
      async () => {
        for (const r of [a, b]) {
          expect(r.replica.status().pending).toBe(0);
          expect(await bodyOf(r, 'n1')).toEqual(final);
        }
      },
      { timeout: 10_000, interval: 20 },
    );
    expect(textOf(final)).toBe('from A. shared line. from B.');
  });

  it('the same update applied twice leaves the same bytes (Yjs updates are idempotent)', async () => {
    server = await syncServer({ module: NOTES });
    const a = await replica();
    await a.replica.call('create_note', { id: 'n2', title: 'twice' });
    const update = clientEdit(await bodyOf(a, 'n2'), 7, (t) => t.insert(0, 'once'));
    await a.replica.call('edit_note', { id: 'n2', update });
    const once = await serverBody('n2');
    await a.replica.call('edit_note', { id: 'n2', update }); // a second call (its own call id)
    expect(await serverBody('n2')).toEqual(once);
    expect(await bodyOf(a, 'n2')).toEqual(once);
    expect(textOf(once)).toBe('once');
  });

  it('refuses an edit of a missing note and bytes that are not a Yjs update, with SenderError', async () => {
    server = await syncServer({ module: NOTES });
    const a = await replica();
    await expect(a.replica.call('edit_note', { id: 'nope', update: new Uint8Array([0, 0]) })).rejects.toMatchObject({ name: 'SenderError', message: expect.stringContaining('no note nope') });
    await a.replica.call('create_note', { id: 'n3', title: 'x' });
    await expect(a.replica.call('edit_note', { id: 'n3', update: new Uint8Array([0xff, 0xff, 0xff]) })).rejects.toMatchObject({
      name: 'SenderError',
      message: expect.stringContaining('not a Yjs update'),
    });
    expect(textOf(await serverBody('n3'))).toBe('');
  });
});
