// The rest of what the 2.10.1 runtime calls on its host: `ctx.senderAuth` with the caller's token
// claims (a token given with a call, and a protocol connection's own token, from clientConnected
// on), `ctx.newUuidV4` / `newUuidV7` (random from the context, time from the call), and
// `volatile_nonatomic_schedule_immediate` (the named function runs after the call, as the
// database, whatever became of the call). Fixture: test/fixtures/runtime-surface.ts.
import { type Identity, Uuid } from 'spacetimedb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryDurability, MemoryStore } from '../src/durability/memory.ts';
import { Engine, randomIdentity } from '../src/engine/engine.ts';
import { SenderError, UsageError } from '../src/errors.ts';
import { bundleModule } from '../src/host/bundle.ts';
import { openDatabase, type NodeDatabase } from '../src/node/open-database.ts';
import { BinaryWriter } from '../src/protocol/client-api.js';
import { rawConnect } from '../src/protocol/fixtures/raw-client.ts';
import { ProtocolServer } from '../src/protocol/server.ts';
import { rejection } from './helpers/rejection.ts';

const module = 'test/fixtures/runtime-surface.ts';

/** An unsigned JWT carrying `claims` (the engine trusts whoever passes it; it only reads the claims). */
function jwt(claims: Record<string, unknown>): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

/** Waits until `query` returns rows (the test's own timeout bounds it). */
async function rowsOf(db: NodeDatabase, query: string): Promise<Record<string, unknown>[]> {
  for (;;) {
    const rows = await db.sql(query);
    if (rows.length) return rows;
    await new Promise((r) => setTimeout(r, 10));
  }
}

let db: NodeDatabase;
beforeAll(async () => {
  db = await openDatabase({ name: 'surface', module });
});
afterAll(async () => {
  await db.close();
});

describe('ctx.senderAuth', () => {
  it("gives the call (and its clientConnected) the claims of the caller's token", async () => {
    const token = jwt({ sub: 'user-1', iss: 'https://auth.example', aud: ['app', 'admin-ui'], role: 'admin', hex_identity: 'ignored' });
    await db.call('whoami', { at: 'with token' }, { token });
    const rows = await db.sql("SELECT at, has_jwt, subject, issuer, audience, role, same_identity FROM auth WHERE subject = 'user-1'");
    const expected = { has_jwt: true, subject: 'user-1', issuer: 'https://auth.example', audience: 'app,admin-ui', role: 'admin', same_identity: true };
    expect(rows).toEqual([
      { at: 'connect', ...expected },
      { at: 'with token', ...expected },
    ]);
  });

  it('reads a single audience, and has no JWT without a token (the next call does not inherit one)', async () => {
    await db.call('whoami', { at: 'aud string' }, { token: jwt({ sub: 'user-2', aud: 'one' }) });
    await db.call('whoami', { at: 'no token' });
    expect(await db.sql("SELECT audience FROM auth WHERE at = 'aud string'")).toEqual([{ audience: 'one' }]);
    expect(await db.sql("SELECT has_jwt, subject FROM auth WHERE at = 'no token'")).toEqual([{ has_jwt: false, subject: '' }]);
  });

  it('refuses a token that is not a JWT with UsageError BAD_ARGUMENT, running nothing', async () => {
    const before = (await db.sql('SELECT * FROM auth')).length;
    for (const token of ['not a token', 'a.b', `x.${Buffer.from('[1]').toString('base64url')}.y`, `x.${Buffer.from('{bad').toString('base64url')}.y`]) {
      const e = await rejection(db.call('whoami', { at: `bad ${token}` }, { token }));
      expect(e).toBeInstanceOf(UsageError);
      expect(e.code).toBe('BAD_ARGUMENT');
    }
    expect((await db.sql('SELECT * FROM auth')).length).toBe(before);
  });

  it("gives a protocol connection's calls the claims of the token it connected with", async () => {
    const durability = memoryDurability(new MemoryStore());
    const engine = await Engine.open({ name: 'surface-wire', durability, code: (await bundleModule(module)).code, owner: randomIdentity() });
    const server = new ProtocolServer({ engine, keys: durability });
    try {
      const c = await rawConnect(server);
      const hello = await c.next('InitialConnection');
      const args = new BinaryWriter(16);
      args.writeString('over the wire');
      c.send({ tag: 'CallReducer', value: { requestId: 1, flags: 0, reducer: 'whoami', args: args.getBuffer().slice() } });
      await c.next('ReducerResult');
      const rows = (await engine.sql('SELECT at, has_jwt, subject, issuer, audience, same_identity FROM auth')).rows;
      const id = (hello.identity as Identity).toHexString();
      const expected = { has_jwt: true, subject: id, issuer: 'lightcone', audience: 'spacetimedb', same_identity: true };
      expect(rows).toEqual([
        { at: 'connect', ...expected },
        { at: 'over the wire', ...expected },
      ]);
      // A call on another connection id (an HTTP-style call) has no token.
      await engine.call('whoami', { at: 'plain' });
      expect((await engine.sql("SELECT has_jwt FROM auth WHERE at = 'plain'")).rows).toEqual([{ has_jwt: false }]);
    } finally {
      await server.close();
      await engine.close();
    }
  });
});

describe('ctx.newUuidV4 / newUuidV7', () => {
  it('makes v4 and time-ordered v7 UUIDs, the v7 carrying the call’s time', async () => {
    await db.call('make_uuids', { note: 'r' });
    const rows = (await db.sql("SELECT * FROM ids WHERE note = 'r v4' OR note = 'r v7 a' OR note = 'r v7 b'")) as { id: Uuid; note: string; made_at: { microsSinceUnixEpoch: bigint } }[];
    const by = Object.fromEntries(rows.map((r) => [r.note, r]));
    expect(by['r v4']!.id.getVersion()).toBe('V4');
    const a = by['r v7 a']!;
    const b = by['r v7 b']!;
    expect(a.id.getVersion()).toBe('V7');
    expect(b.id.getVersion()).toBe('V7');
    expect(a.id.compareTo(b.id)).toBeLessThan(0);
    expect(a.id.asBigInt() >> 80n).toBe(a.made_at.microsSinceUnixEpoch / 1000n);
    await db.call('make_uuids', { note: 's' });
    const again = (await db.sql("SELECT id FROM ids WHERE note = 's v4'")) as { id: Uuid }[];
    expect(again[0]!.id.toString()).not.toBe(by['r v4']!.id.toString());
  });

  it('works in a procedure too, and the value stored is the one returned', async () => {
    const text = (await db.call('uuid_in_procedure', { note: 'proc' })) as string;
    const uuid = Uuid.parse(text);
    expect(uuid.getVersion()).toBe('V7');
    const rows = (await db.sql("SELECT id FROM ids WHERE note = 'proc'")) as { id: Uuid }[];
    expect(rows.map((r) => r.id.toString())).toEqual([text]);
  });
});

describe('volatile_nonatomic_schedule_immediate', () => {
  it('runs the named reducer after the call, as the database identity', async () => {
    await db.call('schedule_later', { note: 'soon', fail: false });
    const rows = await rowsOf(db, "SELECT note, sender FROM ran WHERE note = 'soon'");
    expect((rows[0]!.sender as Identity).toHexString()).toBe(db.identity.toHexString());
  });

  it('is not atomic with the call that asked: it runs even when that call fails', async () => {
    const e = await rejection(db.call('schedule_later', { note: 'anyway', fail: true }));
    expect(e).toBeInstanceOf(SenderError);
    expect(await rowsOf(db, "SELECT note FROM ran WHERE note = 'anyway'")).toEqual([{ note: 'anyway' }]);
  });

  it('logs a name the module does not have, and arguments that do not decode, without failing the call', async () => {
    await db.call('schedule_missing');
    await db.call('schedule_bad_args');
    for (;;) {
      const logs = (await db.logs()).map((l) => l.message);
      const missing = logs.some((m) => m.includes('volatile_nonatomic_schedule_immediate: the module has no reducer or procedure named no_such_reducer'));
      const bad = logs.some((m) => m.startsWith('later (volatile_nonatomic_schedule_immediate) failed'));
      if (missing && bad) break;
      await new Promise((r) => setTimeout(r, 10));
    }
  });
});
