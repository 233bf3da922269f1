// The protocol at the byte level, without the SDK: SpacetimeDB's test vectors, negotiation,
// framing (v2/v3, the compression tag), and bad input — each answered by an error message or a
// close with a reason, never a stuck connection, and other connections unaffected.
import { gunzipSync, gzipSync } from 'node:zlib';
import { ConnectionId, Identity, TimeDuration, Timestamp } from 'spacetimedb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../errors.ts';
import { BinaryReader, BinaryWriter, ServerMessage } from './client-api.js';
import { openHarness, type Harness } from './fixtures/harness.ts';
import { encodeClient, rawConnect } from './fixtures/raw-client.ts';
import { decodeClientFrame, encodeServerMessage, negotiateProtocol, V2_PROTOCOL, V3_PROTOCOL } from './messages.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/[^0-9a-f]/g, ''), 'hex'));

/** BSATN of `send(roomId, text)`'s arguments. */
function sendArgs(roomId: number, text: string): Uint8Array {
  const w = new BinaryWriter(64);
  w.writeU32(roomId);
  w.writeString(text);
  return w.getBuffer().slice();
}

describe('wire format', () => {
  it('encodes server messages byte for byte as SpacetimeDB does (test vectors)', () => {
    expect(hex(encodeServerMessage({ tag: 'SubscriptionError', value: { requestId: 0, querySetId: { id: 0 }, error: 'bad' } }))).toBe('0300000000000000000003000000626164');
    expect(hex(encodeServerMessage({ tag: 'SubscriptionError', value: { requestId: undefined, querySetId: { id: 0 }, error: 'bad' } }))).toBe('03010000000003000000626164');
    const err = new BinaryWriter(16);
    err.writeString('nope');
    expect(hex(encodeServerMessage({ tag: 'ReducerResult', value: { requestId: 1, timestamp: new Timestamp(1000n), result: { tag: 'Err', value: err.getBuffer().slice() } } }))).toBe(
      '0601000000e803000000000000020800000004000000' + '6e6f7065',
    );
    const ret = new BinaryWriter(16);
    ret.writeString('x');
    expect(
      hex(
        encodeServerMessage({
          tag: 'ProcedureResult',
          value: { status: { tag: 'Returned', value: ret.getBuffer().slice() }, timestamp: new Timestamp(1000n), totalHostExecutionDuration: new TimeDuration(5n), requestId: 2 },
        }),
      ),
    ).toBe('070005000000010000' + '0078e80300000000000005000000000000000200' + '0000');
    expect(hex(encodeServerMessage({ tag: 'InitialConnection', value: { identity: new Identity(1n), connectionId: new ConnectionId(2n), token: 't' } }))).toBe(
      `0001${'00'.repeat(31)}02${'00'.repeat(15)}0100000074`,
    );
    const row = unhex('0100000000000000 02000000 6869');
    expect(
      hex(
        encodeServerMessage({
          tag: 'SubscribeApplied',
          value: { requestId: 0, querySetId: { id: 0 }, rows: { tables: [{ table: 'message', rows: { sizeHint: { tag: 'RowOffsets', value: [0n] }, rowsData: row } }] } },
        }),
      ),
    ).toBe(`01000000000000000001000000070000006d657373616765010100000000000000000000000e000000${hex(row)}`);
  });

  it('hand-encodes OneOffQueryResult errors (the package serializer writes them with the ok type), and its decoder reads them', () => {
    const bytes = encodeServerMessage({ tag: 'OneOffQueryResult', value: { requestId: 7, result: { err: 'no such table' } } });
    expect(hex(bytes)).toBe(`0507000000010d000000${hex(new TextEncoder().encode('no such table'))}`);
    expect(ServerMessage.deserialize(new BinaryReader(bytes))).toEqual({ tag: 'OneOffQueryResult', value: { requestId: 7, result: { err: 'no such table' } } });
  });

  it('decodes the SDK’s client messages (test vectors), several per v3 frame and exactly one per v2 frame', () => {
    const subscribe = unhex(`00 00000000 00000000 01000000 17000000${hex(new TextEncoder().encode('SELECT * FROM "message"'))}`);
    const call = unhex('03 01000000 00 04000000 73656e64 06000000 020000006869');
    expect(decodeClientFrame(V2_PROTOCOL, subscribe)).toEqual([{ tag: 'Subscribe', value: { requestId: 0, querySetId: { id: 0 }, queryStrings: ['SELECT * FROM "message"'] } }]);
    const both = new Uint8Array([...subscribe, ...call]);
    expect(decodeClientFrame(V3_PROTOCOL, both).map((m) => m.tag)).toEqual(['Subscribe', 'CallReducer']);
    expect(() => decodeClientFrame(V2_PROTOCOL, both)).toThrow(/follow the message \(v2 carries one message per frame\)/);
    expect(decodeClientFrame(V3_PROTOCOL, unhex('01 05000000 00000000 01'))).toEqual([
      { tag: 'Unsubscribe', value: { requestId: 5, querySetId: { id: 0 }, flags: { tag: 'SendDroppedRows', value: {} } } },
    ]);
  });

  it('refuses malformed frames with MALFORMED_MESSAGE naming the problem', () => {
    const bad = (p: typeof V2_PROTOCOL | typeof V3_PROTOCOL, bytes: Uint8Array) => {
      try {
        decodeClientFrame(p, bytes);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        expect((e as UsageError).code).toBe('MALFORMED_MESSAGE');
        return (e as Error).message;
      }
      throw new Error('expected a refusal');
    };
    expect(bad(V3_PROTOCOL, new Uint8Array())).toMatch(/frame is empty/);
    expect(bad(V3_PROTOCOL, unhex('09'))).toMatch(/unknown message tag 9/);
    expect(bad(V2_PROTOCOL, unhex('00 0000'))).toMatch(/at byte 0 does not decode/);
    expect(bad(V3_PROTOCOL, unhex('01 05000000 00000000 07'))).toMatch(/unknown unsubscribe flag/);
    const subscribe = encodeClient({ tag: 'Subscribe', value: { requestId: 0, querySetId: { id: 0 }, queryStrings: [] } });
    expect(bad(V3_PROTOCOL, new Uint8Array([...subscribe, 0xff]))).toMatch(new RegExp(`at byte ${subscribe.length} has the unknown message tag 255`));
  });

  it('negotiates v3 when offered, else v2, else nothing', () => {
    expect(negotiateProtocol([V2_PROTOCOL, V3_PROTOCOL])).toBe(V3_PROTOCOL);
    expect(negotiateProtocol([V2_PROTOCOL])).toBe(V2_PROTOCOL);
    expect(negotiateProtocol(['v1.json.spacetimedb'])).toBeUndefined();
  });
});

describe('protocol server, raw', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await openHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('sends InitialConnection first, with the connection id clientConnected saw, and handles frames sent before it', async () => {
    const c = await rawConnect(h.server);
    // Sent at once, before clientConnected finished: buffered, then handled in order.
    c.send({ tag: 'Subscribe', value: { requestId: 0, querySetId: { id: 1 }, queryStrings: ['SELECT * FROM presence'] } });
    const applied = await c.next('SubscribeApplied');
    expect(c.messages[0]!.tag).toBe('InitialConnection');
    const init = c.messages[0]!.value as { identity: Identity; connectionId: ConnectionId };
    expect(init.connectionId.isEqual(c.conn.connectionId)).toBe(true);
    expect(init.identity.isEqual(c.conn.identity)).toBe(true);
    // The presence row clientConnected inserted carries this connection's id.
    const rows = applied.rows.tables.find((t) => t.table === 'presence')!.rows;
    const r = new BinaryReader(rows.rowsData);
    expect(r.readU128()).toBe(c.conn.connectionId.__connection_id__);
    expect(r.readU256()).toBe(c.conn.identity.__identity__);
    expect(rows.sizeHint).toEqual({ tag: 'RowOffsets', value: [0n] });
  });

  it('speaks v2 when that is all the client offers: one message per frame', async () => {
    const c = await rawConnect(h.server, { protocols: [V2_PROTOCOL] });
    expect(c.protocol).toBe(V2_PROTOCOL);
    c.send({ tag: 'CallReducer', value: { requestId: 1, flags: 0, reducer: 'send', args: sendArgs(1, 'hi') } });
    await c.next('ReducerResult');
    expect(c.frames).toHaveLength(c.messages.length);
    c.sendRaw(new Uint8Array([...encodeClient({ tag: 'OneOffQuery', value: { requestId: 1, queryString: 'SELECT * FROM room' } }), 2, 0, 0, 0, 0, 0, 0, 0, 0]));
    expect((await c.whenClosed()).reason).toMatch(/v2 carries one message per frame/);
  });

  it('refuses a client that offers no protocol it speaks, and a token it did not issue', async () => {
    await expect(rawConnect(h.server, { protocols: ['v1.json.spacetimedb'] })).rejects.toMatchObject({ name: 'UsageError', code: 'NO_PROTOCOL' });
    await expect(rawConnect(h.server, { token: 'not-a-token' })).rejects.toMatchObject({ name: 'UsageError', code: 'INVALID_TOKEN' });
    const other = await openHarness();
    const stranger = await rawConnect(other.server);
    await expect(rawConnect(h.server, { token: stranger.conn.token })).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
    await other.close();
  });

  it('closes on a malformed frame or an unknown message tag, with the reason; other connections go on', async () => {
    const a = await rawConnect(h.server);
    const b = await rawConnect(h.server);
    const c = await rawConnect(h.server);
    await a.next('InitialConnection');
    await b.next('InitialConnection');
    await c.next('InitialConnection');
    a.sendRaw(unhex('00 0100'));
    expect(await a.whenClosed()).toEqual({ code: 1011, reason: expect.stringMatching(/^malformed client message: the message at byte 0 does not decode/) });
    b.sendRaw(unhex('2a 00000000'));
    expect(await b.whenClosed()).toEqual({ code: 1011, reason: expect.stringMatching(/unknown message tag 42/) });
    c.send({ tag: 'CallReducer', value: { requestId: 3, flags: 0, reducer: 'send', args: sendArgs(1, 'still here') } });
    expect((await c.next('ReducerResult')).result.tag).toBe('Ok');
    expect(h.server.connections).toBe(1);
  });

  it('closes when a query set id is reused while live, but not after it was unsubscribed', async () => {
    const c = await rawConnect(h.server);
    c.send({ tag: 'Subscribe', value: { requestId: 0, querySetId: { id: 4 }, queryStrings: ['SELECT * FROM room'] } });
    await c.next('SubscribeApplied');
    c.send(
      { tag: 'Unsubscribe', value: { requestId: 1, querySetId: { id: 4 }, flags: { tag: 'SendDroppedRows' } } },
      { tag: 'Subscribe', value: { requestId: 2, querySetId: { id: 4 }, queryStrings: ['SELECT * FROM note'] } },
    );
    await c.next('UnsubscribeApplied');
    await c.next('SubscribeApplied', (m) => m.requestId === 2);
    c.send({ tag: 'Subscribe', value: { requestId: 3, querySetId: { id: 4 }, queryStrings: ['SELECT * FROM room'] } });
    expect(await c.whenClosed()).toEqual({ code: 1011, reason: 'query set 4 is already subscribed: unsubscribe it first, or use a new query set id' });
  });

  it('answers an unknown reducer, undecodable or surplus arguments, and a lifecycle reducer with InternalError; the connection stays', async () => {
    const c = await rawConnect(h.server);
    const call = (requestId: number, reducer: string, args: Uint8Array) => c.send({ tag: 'CallReducer', value: { requestId, flags: 0, reducer, args } });
    call(1, 'no_such', new Uint8Array());
    call(2, 'send', unhex('01000000 ff000000'));
    call(3, 'send', new Uint8Array([...sendArgs(1, 'x'), 9]));
    call(4, 'client_connected', new Uint8Array());
    call(5, 'echo', new Uint8Array([0, 0, 0, 0])); // a procedure, not a reducer
    const outcome = async (requestId: number) => (await c.next('ReducerResult', (m) => m.requestId === requestId)).result;
    expect(await outcome(1)).toEqual({ tag: 'InternalError', value: 'no such reducer: no_such' });
    expect(await outcome(2)).toEqual({ tag: 'InternalError', value: expect.stringMatching(/^the arguments of reducer send do not decode: /) });
    expect(await outcome(3)).toEqual({ tag: 'InternalError', value: 'the arguments of reducer send do not decode: 1 byte(s) are left over after the last parameter' });
    expect(await outcome(4)).toEqual({ tag: 'InternalError', value: expect.stringMatching(/lifecycle reducer/) });
    expect(await outcome(5)).toEqual({ tag: 'InternalError', value: 'no such reducer: echo' });
    call(6, 'send', sendArgs(1, 'ok'));
    expect((await outcome(6)).tag).toBe('Ok');
    expect(c.closed).toBeUndefined();
  });

  it('closes on call flags other than 0', async () => {
    const c = await rawConnect(h.server);
    c.send({ tag: 'CallReducer', value: { requestId: 1, flags: 1, reducer: 'noop', args: new Uint8Array() } });
    expect((await c.whenClosed()).reason).toBe('malformed client message: CallReducer flags must be 0, got 1');
  });

  it('answers SenderError with Err(bsatn string) and a throw with InternalError; nothing is broadcast', async () => {
    const c = await rawConnect(h.server);
    const watcher = await rawConnect(h.server);
    watcher.send({ tag: 'Subscribe', value: { requestId: 0, querySetId: { id: 0 }, queryStrings: ['SELECT * FROM room'] } });
    await watcher.next('SubscribeApplied');
    c.send(
      { tag: 'CallReducer', value: { requestId: 1, flags: 0, reducer: 'fail_sender', args: new Uint8Array() } },
      { tag: 'CallReducer', value: { requestId: 2, flags: 0, reducer: 'fail_internal', args: new Uint8Array() } },
      { tag: 'CallReducer', value: { requestId: 3, flags: 0, reducer: 'add_room', args: unhex('05000000 01000000 61') } },
    );
    const r1 = await c.next('ReducerResult', (m) => m.requestId === 1);
    expect(r1.result.tag).toBe('Err');
    expect(new BinaryReader((r1.result as { value: Uint8Array }).value).readString()).toBe('nope');
    expect((await c.next('ReducerResult', (m) => m.requestId === 2)).result).toEqual({ tag: 'InternalError', value: 'boom' });
    // The watcher's first transaction is the third call's: the failed ones sent nothing.
    const tu = await watcher.next('TransactionUpdate');
    expect(watcher.messages.filter((m) => m.tag === 'TransactionUpdate')).toHaveLength(1);
    expect(tu.querySets[0]!.tables.map((t) => t.tableName)).toEqual(['room']);
    const ok = await c.next('ReducerResult', (m) => m.requestId === 3);
    expect(ok.result).toEqual({ tag: 'Ok', value: { retValue: new Uint8Array(), transactionUpdate: { querySets: [] } } });
  });

  it('answers an unknown procedure and undecodable procedure arguments with ProcedureResult InternalError', async () => {
    const c = await rawConnect(h.server);
    c.send(
      { tag: 'CallProcedure', value: { requestId: 1, flags: 0, procedure: 'nope', args: new Uint8Array() } },
      { tag: 'CallProcedure', value: { requestId: 2, flags: 0, procedure: 'echo', args: unhex('ff') } },
      { tag: 'CallProcedure', value: { requestId: 3, flags: 0, procedure: 'echo', args: unhex('01000000 7a') } },
    );
    expect((await c.next('ProcedureResult', (m) => m.requestId === 1)).status).toEqual({ tag: 'InternalError', value: 'no such procedure: nope' });
    expect((await c.next('ProcedureResult', (m) => m.requestId === 2)).status).toEqual({ tag: 'InternalError', value: expect.stringMatching(/^the arguments of procedure echo do not decode/) });
    const ok = await c.next('ProcedureResult', (m) => m.requestId === 3);
    expect(new BinaryReader((ok.status as { value: Uint8Array }).value).readString()).toBe('echo:z');
  });

  it('answers a refused query with SubscriptionError and its request id, an unknown set’s unsubscribe too; the connection stays', async () => {
    const c = await rawConnect(h.server);
    c.send({ tag: 'Subscribe', value: { requestId: 1, querySetId: { id: 0 }, queryStrings: ['SELECT * FROM room', 'SELECT * FROM nowhere'] } });
    const err = await c.next('SubscriptionError');
    expect(err).toEqual({ requestId: 1, querySetId: { id: 0 }, error: expect.stringMatching(/nowhere/) });
    c.send({ tag: 'Unsubscribe', value: { requestId: 2, querySetId: { id: 0 }, flags: { tag: 'SendDroppedRows' } } });
    expect(await c.next('SubscriptionError', (m) => m.requestId === 2)).toEqual({ requestId: 2, querySetId: { id: 0 }, error: 'query set 0 is not subscribed, so it cannot be unsubscribed' });
    // The refused set's id is free again.
    c.send({ tag: 'Subscribe', value: { requestId: 3, querySetId: { id: 0 }, queryStrings: ['SELECT * FROM room'] } });
    await c.next('SubscribeApplied');
    expect(c.closed).toBeUndefined();
  });

  it('answers OneOffQuery with the rows, or an error the package decoder reads', async () => {
    const c = await rawConnect(h.server);
    c.send({ tag: 'CallReducer', value: { requestId: 1, flags: 0, reducer: 'add_room', args: unhex('07000000 01000000 62') } });
    await c.next('ReducerResult');
    c.send({ tag: 'OneOffQuery', value: { requestId: 2, queryString: 'SELECT * FROM room WHERE id = 7' } }, { tag: 'OneOffQuery', value: { requestId: 3, queryString: 'SELECT * FROM nowhere' } });
    const ok = (await c.next('OneOffQueryResult', (m) => m.requestId === 2)).result as unknown as { ok: { tables: { table: string; rows: { rowsData: Uint8Array } }[] } };
    expect(ok.ok.tables.map((t) => [t.table, hex(t.rows.rowsData)])).toEqual([['room', '07000000' + '0100000062']]);
    const err = (await c.next('OneOffQueryResult', (m) => m.requestId === 3)).result as unknown as { err: string };
    expect(err.err).toMatch(/nowhere/);
  });

  it('with tagged framing starts each frame with the compression tag and compresses payloads over 1 KiB', async () => {
    const c = await rawConnect(h.server, { framing: 'tagged', compression: { kind: 'gzip', compress: (p) => gzipSync(p) } }, (b) => gunzipSync(b));
    await c.next('InitialConnection');
    expect(c.frames[0]![0]).toBe(0);
    // add_room(1, 'xxx…'): a room whose row is 2 KB.
    c.send({ tag: 'CallReducer', value: { requestId: 1, flags: 0, reducer: 'add_room', args: sendArgs(1, 'x'.repeat(2000)) } });
    await c.next('ReducerResult');
    expect(c.frames.at(-1)![0]).toBe(0); // a small payload stays uncompressed
    c.send({ tag: 'Subscribe', value: { requestId: 2, querySetId: { id: 0 }, queryStrings: ['SELECT * FROM room'] } });
    const applied = await c.next('SubscribeApplied');
    expect(applied.rows.tables[0]!.rows.rowsData.length).toBeGreaterThan(2000);
    expect(c.frames.at(-1)![0]).toBe(2);
  });
});
