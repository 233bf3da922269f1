// HTTP handlers (`spacetimedb.httpHandler` + `httpRouter`) through `db.fetch` and `db.fetchRoute`,
// as SpacetimeDB serves them at /v1/database/:name/route/*: routing by exact path and method, the
// request the handler sees, its answer (status, headers, bytes), its own transactions (durable,
// seen by SQL and subscriptions), 404 and 500 as SpacetimeDB answers them, bad requests refused
// with a named error, and the time limit naming the handler.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InternalError, UsageError } from '../src/errors.ts';
import { openDatabase, type NodeDatabase } from '../src/node/open-database.ts';
import { rejection } from './helpers/rejection.ts';

const module = 'test/fixtures/http-handlers.ts';

describe('HTTP handlers', () => {
  let db: NodeDatabase;
  beforeAll(async () => {
    db = await openDatabase({ name: 'routes', module });
  });
  afterAll(async () => {
    await db.close();
  });

  it('routes a path and method to its handler and returns its Response', async () => {
    const res = await db.fetch('/hello');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello');
  });

  it('hands the handler the method, URL, headers and body, and returns its status and headers', async () => {
    const res = await db.fetch('/echo?x=1', { method: 'POST', headers: { 'x-test': 'yes' }, body: 'ping' });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-echo')).toBe('yes');
    expect(await res.json()).toEqual({ method: 'POST', uri: 'http://localhost/echo?x=1', test: 'yes', body: 'ping' });
  });

  it('routes a URL of SpacetimeDB’s form by what follows /route, and passes the URL on as it is', async () => {
    const url = 'https://example.test/v1/database/routes/route/echo';
    const res = await db.fetch(new Request(url, { method: 'POST', body: 'x' }));
    expect((await res.json()).uri).toBe(url);
  });

  it('answers 404 with SpacetimeDB’s text when no route matches the path or the method', async () => {
    for (const [path, method] of [
      ['/nope', 'GET'],
      ['/hello', 'POST'],
      ['/hello/', 'GET'],
      ['/Hello', 'GET'],
    ] as const) {
      const res = await db.fetch(path, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(await res.text()).toBe('Database has not registered a handler for this route');
    }
  });

  it('serves the route root and an `any` route for every method', async () => {
    const root = await db.fetchRoute({ method: 'GET', path: '' });
    expect(root.status).toBe(204);
    expect(new TextDecoder().decode(root.body)).toBe('root');
    expect((await db.fetch('/')).status).toBe(404); // '/' is not the root route ''
    for (const method of ['PUT', 'DELETE', 'PATCH']) expect((await db.fetch('/record', { method, body: method })).status).toBe(200);
  });

  it('returns binary bodies byte for byte', async () => {
    const res = await db.fetchRoute({ method: 'get', path: '/bytes' });
    expect(res.status).toBe(200);
    expect([...res.body]).toEqual([0, 1, 2, 255]);
    expect(res.headers).toContainEqual(['content-type', 'application/octet-stream']);
  });

  it("commits a handler's ctx.withTx: durable, visible to SQL and to subscribers", async () => {
    const seen: string[] = [];
    const sub = db.subscribe(['SELECT * FROM visit'], { onUpdate: (u) => seen.push(...u.flatMap((t) => t.inserts.map((r) => String(r.note)))) });
    await sub.applied;
    const before = (await db.sql('SELECT * FROM visit')).length;
    const res = await db.fetch('/record', { method: 'POST', body: 'from http' });
    expect(await res.text()).toBe(`visits=${before + 1}`);
    expect((await db.sql("SELECT note FROM visit WHERE note = 'from http'")).length).toBe(1);
    await db.call('add_visit', { note: 'after' }); // updates arrive in commit order
    expect(seen).toEqual(['from http', 'after']);
    sub.unsubscribe();
  });

  it('answers 500 with the error when the handler throws, and logs it', async () => {
    const res = await db.fetch('/fails');
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('the handler gave up');
    const logs = await db.logs();
    expect(logs.some((l) => l.level === 'panic' && l.message.includes('HTTP handler fails failed: the handler gave up'))).toBe(true);
  });

  it('refuses a request that is not one with UsageError BAD_REQUEST', async () => {
    const bad = [
      { method: 'GET', path: 'hello' },
      { method: 'GE T', path: '/hello' },
      { method: 'GET', path: '/hello', headers: [['a']] },
      { method: 'GET', path: '/hello', body: 'text' },
      { method: 7, path: '/hello' },
    ];
    for (const req of bad) {
      const e = await rejection(db.fetchRoute(req as never));
      expect(e, JSON.stringify(req)).toBeInstanceOf(UsageError);
      expect((e as UsageError).code).toBe('BAD_REQUEST');
    }
  });
});

describe('HTTP handlers under the time limit', () => {
  it('stops a handler that never returns with TIME_LIMIT naming it, and the database goes on', async () => {
    const db = await openDatabase({ name: 'routes-limit', module, callTimeoutMs: 300 });
    try {
      const e = await rejection(db.fetch('/spin'));
      expect(e).toBeInstanceOf(InternalError);
      expect((e as InternalError).code).toBe('TIME_LIMIT');
      expect((e as Error).message).toContain('HTTP handler spin');
      expect(await (await db.fetch('/hello')).text()).toBe('hello');
    } finally {
      await db.close();
    }
  });
});
