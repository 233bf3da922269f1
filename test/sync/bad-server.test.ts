// Bad input from the server side of sync: a server that sends rows of a table the module does not
// define, one whose message is cut short, one that drops the connection. Each shows as a named
// error in the sync status; the outbox keeps every call.
import { createServer, type Server } from 'node:http';
import { WebSocketServer } from 'ws';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConnectionId, Identity } from 'spacetimedb';
import { BinaryWriter, ServerMessage } from '../../src/protocol/client-api.js';
import { removeTempDirs } from '../helpers/paths.ts';
import { openReplica, syncServer, type TestReplica } from './harness.ts';

afterAll(removeTempDirs);

type Mode = 'ghost-table' | 'cut-short' | 'drop';

/** A server that answers like SpacetimeDB until the subscription, then misbehaves as `mode` says. */
async function fakeServer(schema: string, mode: Mode): Promise<{ url: string; close(): Promise<void> }> {
  const identity = new Identity(`c200${'ab'.repeat(30)}`);
  const http: Server = createServer((req, res) => {
    if (req.url === '/v1/identity/websocket-token') return res.end(JSON.stringify({ token: 'short' }));
    if (req.url === '/v1/identity') return res.end(JSON.stringify({ identity: identity.toHexString(), token: 'long' }));
    if (req.url?.startsWith('/v1/database/shop/schema')) return res.end(schema);
    res.statusCode = 404;
    res.end();
  });
  const wss = new WebSocketServer({ server: http, handleProtocols: () => 'v2.bsatn.spacetimedb' });
  const frame = (m: ServerMessage) => {
    const w = new BinaryWriter(256);
    ServerMessage.serialize(w, m);
    const payload = w.getBuffer();
    const out = new Uint8Array(payload.length + 1);
    out.set(payload, 1);
    return out;
  };
  wss.on('connection', (ws) => {
    ws.send(frame({ tag: 'InitialConnection', value: { identity, connectionId: new ConnectionId(7n), token: 'long' } } as ServerMessage));
    ws.on('message', () => {
      if (mode === 'drop') return ws.terminate();
      const applied = frame({
        tag: 'SubscribeApplied',
        value: { requestId: 1, querySetId: { id: 1 }, rows: { tables: [{ table: 'ghost', rows: { sizeHint: { tag: 'FixedSize', value: 1 }, rowsData: new Uint8Array([1, 2]) } }] } },
      } as ServerMessage);
      ws.send(mode === 'cut-short' ? applied.subarray(0, 9) : applied);
    });
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
});
