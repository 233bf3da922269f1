// The official SDK against `lightcone start` over real WebSockets on 127.0.0.1 (v3 and v2,
// compression none and gzip, anonymous and with a token, reconnects), and a bare `ws` client for
// what the SDK never sends: bad frames, refused upgrades, a client that does not read.
import { gunzipSync } from 'node:zlib';
import { WebSocket } from 'ws';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BinaryReader, ServerMessage } from '../../src/protocol/client-api.js';
import { tables } from '../../src/protocol/fixtures/bindings.ts';
import { encodeClient } from '../../src/protocol/fixtures/raw-client.ts';
import { signal } from '../../src/protocol/fixtures/harness.ts';
import { removeTempDirs } from '../helpers/paths.ts';
import { connectSdk, openServer, type SdkClient, type SdkOptions, type TestServer } from './harness.ts';

afterAll(removeTempDirs);

function subscribed(c: SdkClient, query: object): Promise<void> {
  return new Promise((resolve, reject) => {
    c.conn
      .subscriptionBuilder()
      .onApplied(() => resolve())
      .onError((ctx) => reject(ctx.event ?? new Error('subscription failed')))
      .subscribe(query as never);
  });
}

/** A bare WebSocket to /subscribe; resolves once open, or with how the upgrade was refused. */
function rawSocket(url: string, path: string, protocols = ['v3.bsatn.spacetimedb', 'v2.bsatn.spacetimedb']) {
  const ws = new WebSocket(new URL(path, url.replace('http:', 'ws:')), protocols);
  const frames: Uint8Array[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('message', (data: Buffer) => frames.push(new Uint8Array(data)));
  const opened = new Promise<{ status: number; body: string } | undefined>((resolve) => {
    ws.on('open', () => resolve(undefined));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('error', () => {});
  });
  return { ws, frames, closed, opened };
}

/** The server messages in a tagged frame (tag 0 none, 2 gzip). */
function decodeFrame(frame: Uint8Array): ServerMessage[] {
  const payload = frame[0] === 2 ? new Uint8Array(gunzipSync(frame.subarray(1))) : frame.subarray(1);
  const r = new BinaryReader(payload);
  const out: ServerMessage[] = [];
  while (r.remaining > 0) out.push(ServerMessage.deserialize(r) as ServerMessage);
  return out;
}

describe('the SDK over WebSockets', () => {
  let s: TestServer;
  const clients: SdkClient[] = [];
  const connect = async (o: SdkOptions = {}) => {
    const c = await connectSdk(s.url, 'chat', o);
    clients.push(c);
    return c;
  };
  beforeEach(async () => {
    s = await openServer();
    await s.publish('chat');
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close().catch(() => {});
    await s.close();
  });

  const cases = [
    [undefined, 'none'],
    [undefined, 'gzip'],
    [['v2.bsatn.spacetimedb'], 'none'],
  ] as const;
  for (const [offer, compression] of cases) {
    it(`connects, subscribes, calls, and sees another client's commit (${offer ? 'v2' : 'v3'}, compression ${compression})`, async () => {
      const a = await connect({ compression, ...(offer ? { offer: [...offer] } : {}) });
      const b = await connect({ compression });
      await subscribed(a, tables.message);
      await subscribed(b, tables.message);
      const seenByB = signal<string>();
      b.conn.db.message.onInsert((ctx, row) => seenByB.resolve(`${ctx.event.tag}:${row.text.length}`));
      const long = 'x'.repeat(3000); // over 1 KiB: gzip-compressed when asked
      await a.conn.reducers.send({ roomId: 1, text: long });
      expect([...a.conn.db.message.iter()].map((m) => m.text)).toEqual([long]);
      expect(await seenByB.promise).toBe('Transaction:3000');
      const err = await a.conn.reducers.failSender({}).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
    });
  }

  it('an anonymous connection gets a new identity; its token gives the same identity on reconnect, through the websocket-token exchange', async () => {
    const a = await connect();
    const token = a.token;
    await a.close();
    const again = await connect({ token });
    expect(again.identity.isEqual(a.identity)).toBe(true);
    const other = await connect();
    expect(other.identity.isEqual(a.identity)).toBe(false);
    // A token from POST /v1/identity works too, and so does the identity's HTTP access.
    const minted = (await (await s.http('/v1/identity', { method: 'POST' })).json()) as { identity: string; token: string };
    const c = await connect({ token: minted.token });
    expect(c.identity.toHexString()).toBe(minted.identity);
  });

  it('a token the server did not issue is a connect error, and the server goes on', async () => {
    const forged = 'eyJhbGciOiJFUzI1NiJ9.eyJoZXhfaWRlbnRpdHkiOiJ4In0.AAAA';
    await expect(connect({ token: forged })).rejects.toThrow();
    expect((await connect()).identity).toBeTruthy();
  });

  it('gzip above 1 KiB when asked, the tag byte always; refuses unknown databases (404), no shared protocol (400), bad tokens (401)', async () => {
    const gz = rawSocket(s.url, '/v1/database/chat/subscribe?compression=Gzip');
    expect(await gz.opened).toBeUndefined();
    expect(gz.ws.protocol).toBe('v3.bsatn.spacetimedb');
    while (gz.frames.length === 0) await new Promise((r) => setTimeout(r, 10));
    expect(gz.frames[0]![0]).toBe(0); // InitialConnection is small: tag 0
    expect(decodeFrame(gz.frames[0]!)[0]!.tag).toBe('InitialConnection');
    await s.http('/v1/database/chat/call/send', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([1, 'y'.repeat(4000)]) });
    gz.ws.send(encodeClient({ tag: 'Subscribe', value: { requestId: 1, querySetId: { id: 1 }, queryStrings: ['SELECT * FROM message'] } } as never));
    while (gz.frames.length < 2) await new Promise((r) => setTimeout(r, 10));
    expect(gz.frames[1]![0]).toBe(2);
    expect(decodeFrame(gz.frames[1]!)[0]!.tag).toBe('SubscribeApplied');
    gz.ws.close();

    expect(await rawSocket(s.url, '/v1/database/ghost/subscribe').opened).toMatchObject({ status: 404 });
    expect(await rawSocket(s.url, '/v1/database/chat/subscribe', ['v1.json.spacetimedb']).opened).toEqual({ status: 400, body: 'no valid protocol selected' });
    expect(await rawSocket(s.url, '/v1/database/chat/subscribe?token=not.a.token').opened).toMatchObject({ status: 401 });
    expect(await rawSocket(s.url, '/v1/database/chat/subscribe?compression=Zip').opened).toMatchObject({ status: 400 });
  });

  it('a malformed frame closes that connection with a reason; a text frame too; others go on', async () => {
    const bystander = await connect();
    const bad = rawSocket(s.url, '/v1/database/chat/subscribe');
    await bad.opened;
    bad.ws.send(new Uint8Array([0xff, 0xff, 0xff]));
    const closed = await bad.closed;
    expect(closed.code).not.toBe(1000);
    expect(closed.reason).not.toBe('');
    const text = rawSocket(s.url, '/v1/database/chat/subscribe');
    await text.opened;
    text.ws.send('hello');
    expect(await text.closed).toMatchObject({ code: 1003, reason: expect.stringMatching(/MALFORMED_MESSAGE/) });
    await bystander.conn.reducers.addRoom({ id: 5, name: 'still here' });
  });

  it('a client that does not read is disconnected once its queue passes the limit, and the server keeps serving', async () => {
    await s.close();
    s = await openServer({ maxBufferedBytes: 64 * 1024 });
    await s.publish('chat');
    const slow = rawSocket(s.url, '/v1/database/chat/subscribe');
    await slow.opened;
    slow.ws.send(encodeClient({ tag: 'Subscribe', value: { requestId: 1, querySetId: { id: 1 }, queryStrings: ['SELECT * FROM message'] } } as never));
    // Stop reading: the kernel buffers fill, then the server's queue grows past 64 KiB.
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const big = 'z'.repeat(60_000);
    // 18 MB: far more than the loopback socket buffers hold, so the server's own queue grows.
    for (let i = 0; i < 300; i++) {
      const r = await s.http('/v1/database/chat/call/send', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([1, big]) });
      expect(r.status).toBe(200);
    }
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    const closed = await slow.closed;
    expect(closed.code === 1008 || closed.code === 1006).toBe(true);
    const fine = await connect();
    await fine.conn.reducers.addRoom({ id: 9, name: 'after' });
  });
});
