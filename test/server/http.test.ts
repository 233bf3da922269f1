// Every HTTP route of `lightcone start` over a real socket on 127.0.0.1: status codes, JSON shapes,
// auth and owner checks, CORS, and bad input (each a named error; the server goes on serving).
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeTempDirs } from '../helpers/paths.ts';
import { bundle, openServer, type TestServer } from './harness.ts';

afterAll(removeTempDirs);

const json = { 'content-type': 'application/json' };

describe('HTTP API', () => {
  let s: TestServer;
  let owner: string;
  beforeEach(async () => {
    s = await openServer();
    owner = (await s.publish('chat')).token;
  });
  afterEach(async () => {
    await s.close();
  });

  describe('identities', () => {
    it('pings, mints identities, and exchanges a token for a short-lived WebSocket token', async () => {
      const ping = await s.http('/v1/ping');
      expect([ping.status, await ping.text()]).toEqual([200, '']);
      const minted = await s.http('/v1/identity', { method: 'POST' });
      const { identity, token } = (await minted.json()) as { identity: string; token: string };
      expect(identity).toMatch(/^[0-9a-f]{64}$/);
      const ws = await s.http('/v1/identity/websocket-token', { method: 'POST', token });
      expect(ws.status).toBe(200);
      const short = ((await ws.json()) as { token: string }).token;
      const payload = JSON.parse(Buffer.from(short.split('.')[1]!, 'base64url').toString()) as { hex_identity: string; exp: number; iat: number };
      expect(payload.hex_identity).toBe(identity);
      expect(payload.exp - payload.iat).toBe(60);
      expect((await s.http(`/v1/identity/${identity}/verify`, { token })).status).toBe(204);
      expect((await s.http(`/v1/identity/${'0'.repeat(64)}/verify`, { token })).status).toBe(400);
      const none = await s.http('/v1/identity/websocket-token', { method: 'POST' });
      expect([none.status, await none.text()]).toEqual([401, 'Authorization required']);
      const pem = await s.http('/v1/identity/public-key');
      expect(await pem.text()).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    });

    it('answers a request without credentials with a new identity in the headers, and one with a token as that identity', async () => {
      const anon = await s.http('/v1/database/chat/identity');
      const id = anon.headers.get('spacetime-identity');
      const token = anon.headers.get('spacetime-identity-token');
      expect(id).toMatch(/^[0-9a-f]{64}$/);
      const again = await s.http('/v1/database/chat/identity', { token: token! });
      expect(again.headers.get('spacetime-identity')).toBe(id);
      const viaQuery = await s.http(`/v1/database/chat/identity?token=${token}`);
      expect(viaQuery.headers.get('spacetime-identity')).toBe(id);
    });

    it('refuses a forged or malformed token with 401 and keeps serving', async () => {
      const forged = `${owner.slice(0, -4)}AAAA`;
      const r = await s.http('/v1/database/chat/sql', { method: 'POST', body: 'SELECT * FROM room', token: forged });
      expect(r.status).toBe(401);
      expect(await r.text()).toMatch(/^UsageError INVALID_TOKEN: /);
      const bad = await s.http('/v1/database/chat/identity', { headers: { authorization: 'Basic abc' } });
      expect(bad.status).toBe(401);
      expect((await s.http('/v1/ping')).status).toBe(200);
    });

    it('lists the databases an identity owns', async () => {
      const ownerId = (await s.http('/v1/database/chat/identity', { token: owner })).headers.get('spacetime-identity')!;
      const dbIdentity = await (await s.http('/v1/database/chat/identity')).text();
      const r = (await (await s.http(`/v1/identity/${ownerId}/databases`)).json()) as { identities: string[] };
      expect(r.identities).toEqual([dbIdentity]);
      // A database is addressed by its identity as well as by its name.
      expect(await (await s.http(`/v1/database/${dbIdentity}/names`)).json()).toEqual({ names: ['chat'] });
    });
  });

  describe('CORS', () => {
    it('answers preflights for any origin with the headers SpacetimeDB allows, and exposes the identity headers', async () => {
      const pre = await s.http('/v1/identity/websocket-token', {
        method: 'OPTIONS',
        headers: { origin: 'http://example.test', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
      });
      expect(pre.status).toBe(200);
      expect(pre.headers.get('access-control-allow-origin')).toBe('*');
      expect(pre.headers.get('access-control-allow-headers')).toBe('authorization, accept, content-type');
      expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
      const r = await s.http('/v1/database/chat/identity', { headers: { origin: 'http://example.test' } });
      expect(r.headers.get('access-control-expose-headers')).toContain('spacetime-identity-token');
    });
  });

  describe('publish', () => {
    it('creates, leaves unchanged, updates by the migration rules, and refuses a non-owner with PermissionDenied', async () => {
      const again = await s.http('/v1/database/chat?host_type=Js', { method: 'PUT', body: await bundle('src/protocol/fixtures/module.ts'), token: owner });
      expect(((await again.json()) as { Success: { op: string } }).Success.op).toBe('unchanged');
      const v1 = await s.publish('people', 'test/fixtures/migrate/v1.ts');
      const created = (await v1.response.json()) as { Success: { domain: string; database_identity: string; op: string } };
      expect(created.Success).toMatchObject({ domain: 'people', op: 'created' });
      expect(created.Success.database_identity).toMatch(/^[0-9a-f]{64}$/);
      await s.http('/v1/database/people/call/add', { method: 'POST', headers: json, body: '["Ada", 7]', token: v1.token });
      const v2 = await s.http('/v1/database/people?host_type=Js', { method: 'PUT', body: await bundle('test/fixtures/migrate/v2.ts'), token: v1.token });
      expect(((await v2.json()) as { Success: { op: string } }).Success.op).toBe('updated');
      const rows = await s.http('/v1/database/people/sql', { method: 'POST', body: 'SELECT name FROM person', token: v1.token });
      expect(JSON.stringify(await rows.json())).toContain('"Ada"');
      const stranger = await s.http('/v1/database/people?host_type=Js', { method: 'PUT', body: await bundle('test/fixtures/migrate/v1.ts') });
      expect(stranger.status).toBe(403);
      expect(await stranger.json()).toEqual({ PermissionDenied: { name: 'people' } });
    });

    it('pre_publish: 404 for a new name, AutoMigrate for an allowed change, ManualMigrate with the reasons for a refused one', async () => {
      const v1 = await s.publish('people', 'test/fixtures/migrate/v1.ts');
      const fresh = await s.http('/v1/database/nobody/pre_publish?host_type=Js', { method: 'POST', body: await bundle('test/fixtures/migrate/v1.ts') });
      expect(fresh.status).toBe(404);
      // Checking runs the module's top-level code in the database's thread: the owner's only.
      const stranger = await s.http('/v1/database/people/pre_publish?host_type=Js', { method: 'POST', body: await bundle('test/fixtures/migrate/v2.ts') });
      expect(stranger.status).toBe(403);
      const auto = (await (await s.http('/v1/database/people/pre_publish?host_type=Js', { method: 'POST', body: await bundle('test/fixtures/migrate/v2.ts'), token: v1.token })).json()) as {
        AutoMigrate: { migrate_plan: string; break_clients: boolean };
      };
      expect(auto.AutoMigrate.migrate_plan).toMatch(/^- /);
      const manual = (await (await s.http('/v1/database/people/pre_publish?host_type=Js', { method: 'POST', body: await bundle('test/fixtures/migrate/v2-refused.ts'), token: v1.token })).json()) as {
        ManualMigrate: { reason: string };
      };
      expect(manual.ManualMigrate.reason).toMatch(/refuses/);
      // A refused publish changes nothing, and the database keeps serving.
      const refused = await s.http('/v1/database/people?host_type=Js', { method: 'PUT', body: await bundle('test/fixtures/migrate/v2-refused.ts'), token: v1.token });
      expect(refused.status).toBe(400);
      expect(await refused.text()).toMatch(/^Database update rejected: ModuleError MIGRATION_REFUSED/);
      expect((await s.http('/v1/database/people/call/add', { method: 'POST', headers: json, body: '["Bo", 1]', token: v1.token })).status).toBe(200);
    });

    it('clear=true resets the data; a bundle that fails to evaluate or does not parse is a 400 with the reason', async () => {
      await s.http('/v1/database/chat/call/add_room', { method: 'POST', headers: json, body: '[1, "lobby"]', token: owner });
      const cleared = await s.http('/v1/database/chat?host_type=Js&clear=true', { method: 'PUT', body: await bundle('src/protocol/fixtures/module.ts'), token: owner });
      expect(((await cleared.json()) as { Success: { op: string } }).Success.op).toBe('created');
      const rows = (await (await s.http('/v1/database/chat/sql', { method: 'POST', body: 'SELECT * FROM room', token: owner })).json()) as { rows: unknown[] }[];
      expect(rows[0]!.rows).toEqual([]);
      const throws = await s.http('/v1/database/boom?host_type=Js', { method: 'PUT', body: 'throw new Error("top-level boom")' });
      expect(throws.status).toBe(400);
      expect(await throws.text()).toMatch(/MODULE_LOAD_FAILED.*top-level boom/);
      const garbage = await s.http('/v1/database/boom?host_type=Js', { method: 'PUT', body: 'export default (((' });
      expect(garbage.status).toBe(400);
      expect(await garbage.text()).toMatch(/BUNDLE_FAILED/);
      const wasm = await s.http('/v1/database/boom?host_type=Wasm', { method: 'PUT', body: 'x' });
      expect(wasm.status).toBe(400);
      expect(await wasm.text()).toMatch(/UNSUPPORTED_OPTION.*JavaScript modules only/);
      expect((await s.http('/v1/database/boom/identity')).status).toBe(404);
    });
  });

  describe('calls', () => {
    it('200 for a committed reducer, 530 with the message for a refused one, 404 unknown, 400 bad arguments or content type', async () => {
      const ok = await s.http('/v1/database/chat/call/add_room', { method: 'POST', headers: json, body: '[7, "lobby"]' });
      expect([ok.status, await ok.text()]).toEqual([200, '']);
      expect(ok.headers.get('spacetime-execution-duration-micros')).toMatch(/^\d+$/);
      const byName = await s.http('/v1/database/chat/call/add_room', { method: 'POST', headers: json, body: '{"id": 8, "name": "den"}' });
      expect(byName.status).toBe(200);
      const refused = await s.http('/v1/database/chat/call/fail_sender', { method: 'POST', headers: json, body: '[]' });
      expect(refused.status).toBe(530);
      expect(await refused.text()).toBeTruthy();
      expect((await s.http('/v1/database/chat/call/nope', { method: 'POST', headers: json, body: '[]' })).status).toBe(404);
      const badArgs = await s.http('/v1/database/chat/call/add_room', { method: 'POST', headers: json, body: '["not a number", 1]' });
      expect(badArgs.status).toBe(400);
      expect(await badArgs.text()).toMatch(/^UsageError BAD_ARGUMENT/);
      const notJson = await s.http('/v1/database/chat/call/add_room', { method: 'POST', headers: json, body: '[7, "lob' });
      expect(notJson.status).toBe(400);
      const noType = await s.http('/v1/database/chat/call/add_room', { method: 'POST', body: '[9, "x"]' });
      expect([noType.status, await noType.text()]).toEqual([400, 'Expected request with `Content-Type: application/json`']);
      const lifecycle = await s.http('/v1/database/chat/call/client_connected', { method: 'POST', headers: json, body: '[]' });
      expect(lifecycle.status).toBe(400);
      expect((await s.http('/v1/database/ghost/call/add_room', { method: 'POST', headers: json, body: '[]' })).status).toBe(404);
    });

    it("SQL answers one result per statement in SpacetimeDB's shape; schema answers v9 and v10", async () => {
      await s.http('/v1/database/chat/call/add_room', { method: 'POST', headers: json, body: '[7, "lobby"]' });
      const r = await s.http('/v1/database/chat/sql', {
        method: 'POST',
        body: "SELECT * FROM room; UPDATE room SET name = 'hall' WHERE id = 7; SELECT name FROM room WHERE name = 'a;b'",
        token: owner,
      });
      expect(r.status).toBe(200);
      const [select, update, none] = (await r.json()) as { schema: { elements: unknown[] }; rows: unknown[]; total_duration_micros: number; stats: Record<string, number> }[];
      expect(select!.schema.elements).toEqual([
        { name: { some: 'id' }, algebraic_type: { U32: [] } },
        { name: { some: 'name' }, algebraic_type: { String: [] } },
      ]);
      expect(select!.rows).toEqual([[7, 'lobby']]);
      expect(select!.total_duration_micros).toEqual(expect.any(Number));
      expect(update).toMatchObject({ schema: { elements: [] }, rows: [], stats: { rows_updated: 1 } });
      expect(none!.rows).toEqual([]);
      const bad = await s.http('/v1/database/chat/sql', { method: 'POST', body: 'SELEKT 1' });
      expect(bad.status).toBe(400);
      expect(await bad.text()).toMatch(/^SqlError /);
      const v10 = (await (await s.http('/v1/database/chat/schema?version=10')).json()) as { sections: Record<string, unknown>[] };
      const tablesSection = v10.sections.find((x) => 'Tables' in x) as { Tables: { source_name: string }[] } | undefined;
      expect(JSON.stringify(tablesSection)).toContain('"room"');
      const v9 = (await (await s.http('/v1/database/chat/schema?version=9')).json()) as { tables: { name: string }[]; reducers: { name: string }[] };
      expect(v9.tables.map((t) => t.name)).toContain('room');
      expect(v9.reducers.map((x) => x.name)).toContain('add_room');
    });

    it("shows the caller's token claims to the module (ctx.senderAuth) in an HTTP call", async () => {
      const { token } = await s.publish('surface', 'test/fixtures/runtime-surface.ts');
      expect((await s.http('/v1/database/surface/call/whoami', { method: 'POST', headers: json, body: '["http"]', token })).status).toBe(200);
      const id = (await s.http('/v1/database/surface/identity', { token })).headers.get('spacetime-identity');
      const rows = (await (await s.http('/v1/database/surface/sql', { method: 'POST', body: "SELECT has_jwt, subject, issuer FROM auth WHERE at = 'http'", token })).json()) as { rows: unknown[] }[];
      expect(rows[0]!.rows).toEqual([[true, id, 'lightcone']]);
    });

    it('answers a procedure with its return value as JSON', async () => {
      const r = await s.http('/v1/database/chat/call/echo', { method: 'POST', headers: json, body: '["hi"]' });
      expect([r.status, await r.json()]).toEqual([200, 'echo:hi']);
      const failed = await s.http('/v1/database/chat/call/proc_fail', { method: 'POST', headers: json, body: '[]' });
      expect(failed.status).toBe(530);
      expect(await failed.text()).toMatch(/procedure exploded/);
    });
  });

  describe('owner-only operations', () => {
    it('logs and delete need the owner; delete of a missing database is 200', async () => {
      expect((await s.http('/v1/database/chat/logs')).status).toBe(403);
      const talk = await s.publish('talk', 'examples/chat/index.ts', owner);
      for (const text of ['a', 'b', 'c', 'd', 'e', 'f']) await s.http('/v1/database/talk/call/send_message', { method: 'POST', headers: json, body: JSON.stringify([text]), token: talk.token });
      const logs = await s.http('/v1/database/talk/logs?num_lines=5', { token: owner });
      expect(logs.status).toBe(200);
      expect(logs.headers.get('content-type')).toBe('application/x-ndjson');
      const lines = (await logs.text()).trim().split('\n').filter(Boolean);
      expect(lines).toHaveLength(5);
      expect(JSON.parse(lines[4]!).message).toMatch(/: f$/);
      for (const l of lines) expect(JSON.parse(l)).toMatchObject({ level: expect.stringMatching(/^(Error|Warn|Info|Debug|Trace|Panic)$/), ts: expect.any(Number), message: expect.any(String) });
      expect((await s.http('/v1/database/chat', { method: 'DELETE' })).status).toBe(403);
      expect((await s.http('/v1/database/chat/identity')).status).toBe(200);
      expect((await s.http('/v1/database/chat', { method: 'DELETE', token: owner })).status).toBe(200);
      expect((await s.http('/v1/database/chat/identity')).status).toBe(404);
      expect((await s.http('/v1/database/chat', { method: 'DELETE', token: owner })).status).toBe(200);
    });

    it('SQL: DML and private tables only for the owner', async () => {
      const dml = await s.http('/v1/database/chat/sql', { method: 'POST', body: "INSERT INTO room (id, name) VALUES (3, 'x')" });
      expect(dml.status).toBe(400);
      expect(await dml.text()).toMatch(/PERMISSION_DENIED/);
      const asOwner = await s.http('/v1/database/chat/sql', { method: 'POST', body: "INSERT INTO room (id, name) VALUES (3, 'x')", token: owner });
      expect(asOwner.status).toBe(200);
    });

    it('follows logs as ndjson until the client goes', async () => {
      const ac = new AbortController();
      await s.publish('talk', 'examples/chat/index.ts', owner);
      const r = await s.http('/v1/database/talk/logs?follow=true&num_lines=0', { token: owner, signal: ac.signal });
      expect(r.status).toBe(200);
      const reader = r.body!.getReader();
      await s.http('/v1/database/talk/call/send_message', { method: 'POST', headers: json, body: '["to the log"]' });
      let text = '';
      while (!text.includes('to the log')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      ac.abort();
      expect(JSON.parse(text.trim().split('\n').at(-1)!)).toMatchObject({ level: 'Info', message: expect.stringMatching(/to the log$/) });
    });
  });

  describe("the module's HTTP handlers", () => {
    it("serves /route/* with the handler's status, headers and body, without the auth middleware; 404 for no route, 500 when it throws", async () => {
      await s.publish('web', 'test/fixtures/http-handlers.ts');
      const hello = await s.http('/v1/database/web/route/hello');
      expect([hello.status, await hello.text()]).toEqual([200, 'hello']);
      expect(hello.headers.get('spacetime-identity')).toBeNull();
      const echo = await s.http('/v1/database/web/route/echo?x=1', { method: 'POST', headers: { 'x-test': 'yes' }, body: 'ping' });
      expect(echo.status).toBe(201);
      expect(echo.headers.get('x-echo')).toBe('yes');
      expect(await echo.json()).toMatchObject({ method: 'POST', test: 'yes', body: 'ping', uri: expect.stringContaining('/route/echo?x=1') });
      const bytes = await s.http('/v1/database/web/route/bytes');
      expect([...new Uint8Array(await bytes.arrayBuffer())]).toEqual([0, 1, 2, 255]);
      const record = await s.http('/v1/database/web/route/record', { method: 'PUT', body: 'first' });
      expect(await record.text()).toBe('visits=1');
      expect((await s.http('/v1/database/web/route/nowhere')).status).toBe(404);
      expect((await s.http('/v1/database/web/route/fails')).status).toBe(500);
      expect((await s.http('/v1/database/web/route')).status).toBe(204);
      expect((await s.http('/v1/database/ghost/route/hello')).status).toBe(404);
    });
  });

  describe('bad input', () => {
    it('413 for a body past the limit, 404 for unknown routes and databases, 405 for a wrong method, 426 for /subscribe without upgrade', async () => {
      const small = await openServer({ maxBodyBytes: 1024 });
      try {
        const r = await small.http('/v1/database/x?host_type=Js', { method: 'PUT', body: 'x'.repeat(4096) });
        expect(r.status).toBe(413);
        expect(await r.text()).toMatch(/^UsageError BODY_TOO_LARGE/);
        expect((await small.http('/v1/ping')).status).toBe(200);
      } finally {
        await small.close();
      }
      expect((await s.http('/v2/whatever')).status).toBe(404);
      expect((await s.http('/v1/database/ghost/schema?version=10')).status).toBe(404);
      expect((await s.http('/v1/ping', { method: 'POST' })).status).toBe(405);
      expect((await s.http('/v1/database/chat/subscribe')).status).toBe(426);
      expect((await s.http('/v1/database/chat/schema?version=3')).status).toBe(400);
    });
  });
});
