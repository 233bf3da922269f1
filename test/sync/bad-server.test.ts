// Bad input from the server side of sync: a server that sends rows of a table the module does not
// define, one whose message is cut short, one that drops the connection, one that puts two
// messages in a v2 frame, one that sends bytes no message starts with once sync is online. Each
// shows as a named error in the sync status; the outbox keeps every call. And a v3 server that
// puts InitialConnection and another message in one frame is read whole.
import { createServer, type Server } from 'node:http';
import { WebSocketServer } from 'ws';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConnectionId, Identity } from 'spacetimedb';
import { BinaryWriter, ServerMessage } from '../../src/protocol/client-api.js';
import { removeTempDirs } from '../helpers/paths.ts';
import { openReplica, syncServer, type TestReplica } from './harness.ts';

afterAll(removeTempDirs);

type Mode = 'ghost-table' | 'cut-short' | 'drop' | 'v2-two-messages' | 'v3-bad-later' | 'v3-together';

/**
 * A server that answers like SpacetimeDB until the subscription, then misbehaves as `mode` says.
 * `v3-…` speak v3 and send InitialConnection and an empty TransactionUpdate in one frame;
 * `v3-together` then behaves, `v3-bad-later` applies the subscription and then sends a frame
 * whose second message is not one.
 */
async function fakeServer(schema: string, mode: Mode): Promise<{ url: string; close(): Promise<void> }> {
  const identity = new Identity(`c200${'ab'.repeat(30)}`);
  const http: Server = createServer((req, res) => {
    if (req.url === '/v1/identity/websocket-token') return res.end(JSON.stringify({ token: 'short' }));
    if (req.url === '/v1/identity') return res.end(JSON.stringify({ identity: identity.toHexString(), token: 'long' }));
    if (req.url?.startsWith('/v1/database/shop/schema')) return res.end(schema);
    res.statusCode = 404;
    res.end();
  });
  const v3 = mode.startsWith('v3');
  const wss = new WebSocketServer({ server: http, handleProtocols: (offered) => (v3 ? (offered.has('v3.bsatn.spacetimedb') ? 'v3.bsatn.spacetimedb' : false) : 'v2.bsatn.spacetimedb') });
  /** A frame: the compression tag (none), then the messages back to back. */
  const frame = (...messages: ServerMessage[]) => {
    const w = new BinaryWriter(256);
    w.writeU8(0);
    for (const m of messages) ServerMessage.serialize(w, m);
    return w.getBuffer().slice();
  };
  const hello = { tag: 'InitialConnection', value: { identity, connectionId: new ConnectionId(7n), token: 'long' } } as ServerMessage;
  wss.on('connection', (ws) => {
    if (!v3) ws.send(frame(hello));
    ws.on('message', () => {
      if (mode === 'drop') return ws.terminate();
      if (v3) {
        const empty = { tag: 'SubscribeApplied', value: { requestId: 1, querySetId: { id: 1 }, rows: { tables: [] } } } as ServerMessage;
        ws.send(frame(empty));
        // Later, when sync is most likely online (either way the status must name the error).
        const bad = new Uint8Array([...frame({ tag: 'TransactionUpdate', value: { querySets: [] } } as ServerMessage), 0xee, 1, 2]);
        if (mode === 'v3-bad-later') setTimeout(() => ws.send(bad), 50);
        return;
      }
      const applied = {
        tag: 'SubscribeApplied',
        value: { requestId: 1, querySetId: { id: 1 }, rows: { tables: [{ table: 'ghost', rows: { sizeHint: { tag: 'FixedSize', value: 1 }, rowsData: new Uint8Array([1, 2]) } }] } },
      } as ServerMessage;
      if (mode === 'v2-two-messages') return ws.send(frame(applied, applied));
      ws.send(mode === 'cut-short' ? frame(applied).subarray(0, 9) : frame(applied));
    });
    // v3: the greeting and an unasked-for TransactionUpdate (nothing in it) in one frame.
    if (v3) ws.send(frame(hello, { tag: 'TransactionUpdate', value: { querySets: [] } } as ServerMessage));
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const port = (http.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(r));
      await new Promise((r) => http.close(r));
    },
  };
}

describe('a server that sends what sync cannot use', () => {
  const replicas: TestReplica[] = [];
  afterEach(async () => {
    for (const r of replicas.splice(0)) await r.close().catch(() => {});
  });

  for (const [mode, expected] of [
    ['ghost-table', { code: 'UNKNOWN_TABLE', message: /table ghost, which this module does not define/ }],
    ['cut-short', { code: 'DISCONNECTED', message: /a message sync cannot read/ }],
    ['drop', { code: 'DISCONNECTED', message: /the connection closed/ }],
    ['v2-two-messages', { code: 'DISCONNECTED', message: /v2 carries one message per frame/ }],
    ['v3-bad-later', { code: 'PROTOCOL_ERROR', message: /a message sync cannot read: an unknown message tag/ }],
  ] as const) {
    it(`${mode}: a named error in the status, sync retries, the outbox keeps the calls`, async () => {
      const real = await syncServer();
      const schema = await (await real.s.http('/v1/database/shop/schema?version=10')).text();
      await real.stop();
      const fake = await fakeServer(schema, mode);
      try {
        const r = await openReplica({ uri: fake.url, database: 'shop' });
        replicas.push(r);
        const st = await r.until((s) => s.error?.code === expected.code);
        expect(st.error!.message).toMatch(expected.message);
        expect(st.state === 'offline' || st.state === 'syncing').toBe(true);
        await r.replica.call('add_item', { text: 'kept' }, 'local');
        expect(r.replica.status().pending).toBe(1);
        expect(await r.rows('SELECT text FROM item')).toEqual([{ text: 'kept' }]);
        // It keeps trying (the next failure comes from a new connection).
        const before = r.statuses.length;
        await r.until(() => r.statuses.length > before + 1);
      } finally {
        await fake.close();
      }
    });
  }

  it('v3: a frame holding InitialConnection and another message is read whole', async () => {
    const real = await syncServer();
    const schema = await (await real.s.http('/v1/database/shop/schema?version=10')).text();
    await real.stop();
    const fake = await fakeServer(schema, 'v3-together');
    try {
      const r = await openReplica({ uri: fake.url, database: 'shop' });
      replicas.push(r);
      // InitialConnection arrived with a TransactionUpdate behind it in one frame; the subscription then applied.
      const st = await r.until((s) => s.state === 'online');
      expect(st.identity).toBe(`c200${'ab'.repeat(30)}`);
      expect(st.error).toBeUndefined();
    } finally {
      await fake.close();
    }
  });
});
