// The official SDK against `lightcone start` over real WebSockets on 127.0.0.1.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tables } from '../../src/protocol/fixtures/bindings.ts';
import { signal } from '../../src/protocol/fixtures/harness.ts';
import { removeTempDirs } from '../helpers/paths.ts';
import { connectSdk, openServer, type SdkClient, type TestServer } from './harness.ts';

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

describe('the SDK over WebSockets', () => {
  let s: TestServer;
  const clients: SdkClient[] = [];
  beforeEach(async () => {
    s = await openServer();
    await s.publish('chat');
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close().catch(() => {});
    await s.close();
  });

  for (const compression of ['none', 'gzip'] as const) {
    it(`connects, subscribes and calls a reducer (compression ${compression})`, async () => {
      const a = await connectSdk(s.url, 'chat', { compression });
      clients.push(a);
      await subscribed(a, tables.message);
      const inserted = signal<string>();
      a.conn.db.message.onInsert((ctx, row) => inserted.resolve(`${ctx.event.tag}:${row.text}`));
      await a.conn.reducers.send({ roomId: 1, text: 'x'.repeat(3000) });
      expect(await inserted.promise).toBe(`Reducer:${'x'.repeat(3000)}`);
    });
  }
});
