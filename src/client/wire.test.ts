// Across a real Comlink boundary (a MessageChannel in Node): errors keep their class, code and
// details; the module library's value classes come back as themselves after structured clone.
import * as Comlink from 'comlink';
import { ConnectionId, Identity, TimeDuration, Timestamp, Uuid } from 'spacetimedb';
import { afterAll, describe, expect, it } from 'vitest';
import { ClosedError, InternalError, SenderError, SqlError, StorageError, UsageError } from '../errors.ts';
import { installTransferHandlers, revive } from './wire.ts';

installTransferHandlers();
const { port1, port2 } = new MessageChannel();
const api = {
  fail(kind: string): never {
    switch (kind) {
      case 'sender':
        throw new SenderError('Messages must not be empty', { reducer: 'send_message' });
      case 'internal':
        throw new InternalError('boom', { reducer: 'x' });
      case 'storage':
        throw new StorageError('QUOTA_EXCEEDED', 'the quota is full', { database: 'lightcone:chat', big: 7n });
      case 'sql':
        throw new SqlError('UNKNOWN_TABLE', 'no table nowhere');
      case 'closed':
        throw new ClosedError('gone', { retryable: true, callId: 'c1' });
      case 'type':
        throw new TypeError('plain');
      default:
        throw new UsageError('BAD_ARGUMENT', 'usage', { fn: () => 1 });
    }
  },
  echo: (v: unknown) => v,
};
Comlink.expose(api, port1 as unknown as Comlink.Endpoint);
const remote = Comlink.wrap<typeof api>(port2 as unknown as Comlink.Endpoint);
afterAll(() => {
  port1.close();
  port2.close();
});

const thrown = (kind: string): Promise<unknown> =>
  (remote.fail(kind) as Promise<unknown>).then(
    () => undefined,
    (e: unknown) => e,
  );

describe('errors across Comlink', () => {
  it('keep their class, code and details', async () => {
    const sender = await thrown('sender');
    expect(sender).toBeInstanceOf(SenderError);
    expect(sender).toMatchObject({ name: 'SenderError', code: 'SENDER_ERROR', message: 'Messages must not be empty', details: { reducer: 'send_message' } });
    expect(await thrown('internal')).toBeInstanceOf(InternalError);
    const storage = await thrown('storage');
    expect(storage).toBeInstanceOf(StorageError);
    expect(storage).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { database: 'lightcone:chat', big: 7n } });
    expect(await thrown('sql')).toBeInstanceOf(SqlError);
    expect(await thrown('closed')).toMatchObject({ name: 'ClosedError', details: { retryable: true, callId: 'c1' } });
  });

  it('other errors keep name and message; uncloneable details become text', async () => {
    const type = (await thrown('type')) as Error;
    expect([type.name, type.message]).toEqual(['TypeError', 'plain']);
    const usage = await thrown('other');
    expect(usage).toBeInstanceOf(UsageError);
    expect(typeof (usage as UsageError).details.fn).toBe('string');
  });
});

describe('revive', () => {
  it('rebuilds value classes after structured clone, in place', async () => {
    const row = {
      id: 1n,
      who: new Identity(5n),
      conn: new ConnectionId(6n),
      at: new Timestamp(7n),
      took: new TimeDuration(8n),
      uuid: new Uuid(9n),
      nested: [{ who: new Identity(10n) }],
      bytes: new Uint8Array([1]),
    };
    const cloned = (await remote.echo(row)) as Record<string, unknown>;
    expect(cloned.who).not.toBeInstanceOf(Identity);
    const back = revive(cloned) as typeof row;
    expect(back).toBe(cloned);
    expect(back.who).toBeInstanceOf(Identity);
    expect(back.who.isEqual(new Identity(5n))).toBe(true);
    expect(back.conn).toBeInstanceOf(ConnectionId);
    expect(back.at).toBeInstanceOf(Timestamp);
    expect(back.took).toBeInstanceOf(TimeDuration);
    expect(back.uuid).toBeInstanceOf(Uuid);
    expect(back.nested[0]!.who).toBeInstanceOf(Identity);
    expect(back.bytes).toBeInstanceOf(Uint8Array);
    expect(revive({ __identity__: 'not a bigint' })).toEqual({ __identity__: 'not a bigint' });
  });
});
