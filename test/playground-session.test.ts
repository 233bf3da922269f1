// The playground session's codecs (demo/playground/session/): exact argument text, the versioned
// session document, and share links (deflate-raw + base64url in the URL's hash).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionId, Identity, ScheduleAt, TimeDuration, Timestamp, Uuid } from 'spacetimedb';
import { openDatabase, type NodeDatabase } from '../src/node/open-database.ts';
import { readArgs, writeArgs, writeValue } from '../demo/playground/session/args.ts';
import { readDocument, SESSION_FORMAT, SESSION_VERSION, writeDocument, type SessionDocument } from '../demo/playground/session/document.ts';
import { SessionError } from '../demo/playground/session/errors.ts';
import { hasSharedSession, readShareHash, shareHash, shareUrl } from '../demo/playground/session/share.ts';
import { ALL_TYPES, CHAT, ROOT, removeTempDirs, tempDir } from './helpers/paths.ts';
import { bundleModule } from '../src/host/bundle.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

afterAll(removeTempDirs);

const U128_MAX = (1n << 128n) - 1n;
const I256_MIN = -(1n << 255n);

/** One argument per column of examples/all-types' row, with the awkward values of each type. */
function awkwardRow(id: number, f64: number): unknown[] {
  return [
    id,
    true,
    -128,
    255,
    -32768,
    65535,
    -2147483648,
    4294967295,
    -(1n << 63n),
    (1n << 64n) - 1n,
    -(1n << 127n),
    U128_MAX,
    I256_MIN,
    (1n << 256n) - 1n,
    Math.fround(1.1),
    f64,
    'héllo "quoted" \\ ✓ 😀 \u0000',
    new Uint8Array([0, 1, 127, 128, 255]),
    ['a', '', '$bytes'],
    undefined,
    { x: 2147483647, y: -2147483648 },
    { tag: 'Rect', value: { w: 4294967295, h: 1 } },
    { tag: 'Blue' },
    new Identity((1n << 256n) - 2n),
    new ConnectionId(0xabcdn),
    new Timestamp(-1_000_000n),
    new TimeDuration(1n << 62n),
    Uuid.parse('0190a9b2-7c1e-7000-8000-000000000001'),
    ScheduleAt.interval(60_000_000n),
  ];
}

describe('call arguments as exact text', () => {
  let db: NodeDatabase;
  beforeAll(async () => {
    db = await openDatabase({ name: 'all', module: ALL_TYPES });
  });
  afterAll(async () => {
    await db.close();
  });

  it('keeps every digit and every bit: the read-back arguments store the same row as the originals', async () => {
    const floats = [Number.NaN, -0, Infinity, -Infinity, 1e300, 2 ** 60, 5e-324, 0.1 + 0.2];
    for (const [i, f] of floats.entries()) {
      const original = awkwardRow(2 * i + 1, f);
      const text = writeArgs(original);
      const back = readArgs(text, 'test');
      await db.call('insert_all_types', original);
      await db.call('insert_all_types', [2 * i + 2, ...back.slice(1)]);
    }
    const rows = (await db.sql('SELECT * FROM all_types')) as Record<string, unknown>[];
    const byId = new Map(rows.map((r) => [r.id as number, writeValue({ ...r, id: 0 })]));
    expect(byId.size).toBe(floats.length * 2);
    for (let i = 0; i < floats.length; i++) expect(byId.get(2 * i + 2)).toBe(byId.get(2 * i + 1));
    // Stored floats are what was given (NaN, -0 and the smallest subnormal included).
    const f64 = rows
      .filter((r) => (r.id as number) % 2 === 0)
      .sort((a, b) => (a.id as number) - (b.id as number))
      .map((r) => r.f_64 as number);
    expect(f64.map((x) => (Object.is(x, -0) ? '-0' : String(x)))).toEqual(floats.map((x) => (Object.is(x, -0) ? '-0' : String(x))));
  });

  it('reads like SATS-JSON: integers with all their digits, identities in hex, times in µs', () => {
    const text = writeArgs([U128_MAX, I256_MIN, 7n, 1.5, new Identity(0x1234n), new Timestamp(1_735_787_045_678_000n), undefined, 'x']);
    expect(text).toBe(
      `[340282366920938463463374607431768211455,-57896044618658097711785492504343953926634992332820282019728792003956564819968,7,1.5,{"__identity__":"0x${'0'.repeat(60)}1234"},{"__timestamp_micros_since_unix_epoch__":1735787045678000},null,"x"]`,
    );
    const back = readArgs(text, 'test');
    expect(back[0]).toBe(U128_MAX);
    expect(back[1]).toBe(I256_MIN);
    expect((back[4] as Identity).isEqual(new Identity(0x1234n))).toBe(true);
    expect((back[5] as Timestamp).microsSinceUnixEpoch).toBe(1_735_787_045_678_000n);
    expect(back[6]).toBeUndefined();
  });

  it("an object whose only key looks like a special form reads back as that object, and the worker's plain identity reads as an Identity", () => {
    const tricky = [{ $bytes: 'ab' }, { __identity__: 'not hex' }, { __identity__: 5n }, { tag: 'A', value: { $float: 'NaN' } }];
    const back = readArgs(writeArgs(tricky), 'test');
    expect(back[0]).toEqual({ $bytes: 'ab' });
    expect(back[1]).toEqual({ __identity__: 'not hex' });
    expect(back[2]).toBeInstanceOf(Identity);
    expect((back[2] as Identity).isEqual(new Identity(5n))).toBe(true);
    expect(back[3]).toEqual({ tag: 'A', value: { $float: 'NaN' } });
  });

  it('refuses what a reducer cannot take, with SessionError UNRECORDABLE', () => {
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    for (const bad of [[() => 1], [new Map()], cyclic, [Symbol('s')], [new Array(3)]]) {
      const err = (() => {
        try {
          writeArgs(bad);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(SessionError);
      expect((err as SessionError).code).toBe('UNRECORDABLE');
    }
  });

  it('bad argument text is SessionError BAD_SESSION naming where it is', () => {
    for (const bad of ['[1,', '{"a":1}', '[{"__identity__":"0xzz"}]', '[{"$bytes":"abc"}]', '[{"$float":"nan"}]', '[{"__uuid__":-1}]']) {
      expect(() => readArgs(bad, 'entries[3].args')).toThrow(SessionError);
      try {
        readArgs(bad, 'entries[3].args');
      } catch (e) {
        expect((e as SessionError).code).toBe('BAD_SESSION');
        expect((e as Error).message).toContain('entries[3].args');
      }
    }
  });
});

const CHAT_SOURCE = readFileSync(CHAT, 'utf8');

function sampleDocument(): SessionDocument {
  return {
    format: SESSION_FORMAT,
    version: SESSION_VERSION,
    savedAt: '2026-01-02T03:04:05.000Z',
    entries: [
      { kind: 'publish', at: 1_767_000_000_000, source: CHAT_SOURCE, reset: false, outcome: 'ok' },
      {
        kind: 'call',
        at: 1_767_000_001_000,
        timestamp: '1767000001000000',
        name: 'send_message',
        args: writeArgs(['hello 😀']),
        sender: 'alice',
        senderHex: `c200${'a1'.repeat(30)}`,
        outcome: { ok: true },
        changes: [{ table: 'message', inserts: 1, deletes: 0 }],
      },
      {
        kind: 'call',
        at: 1_767_000_002_000,
        timestamp: '1767000002000000',
        name: 'send_message',
        args: '[""]',
        sender: 'owner',
        senderHex: 'ab'.repeat(32),
        outcome: { ok: false, error: 'SenderError', message: 'Messages must not be empty' },
        changes: [],
      },
      { kind: 'publish', at: 1_767_000_003_000, source: 'export default 1', reset: false, outcome: 'refused', message: 'refused', reasons: ['table message removed'] },
    ],
  };
}

function refusal(f: () => unknown): SessionError {
  try {
    f();
  } catch (e) {
    if (e instanceof SessionError) return e;
    throw e;
  }
  throw new Error('expected a SessionError');
}

describe('session document', () => {
  it('round-trips through its JSON text', () => {
    const doc = sampleDocument();
    expect(readDocument(writeDocument(doc), 'the file')).toEqual(doc);
  });

  it('a document from a newer playground is refused with FUTURE_VERSION, saying what to do', () => {
    const text = writeDocument({ ...sampleDocument(), version: 2 as 1 });
    const e = refusal(() => readDocument(text, 'the file s.json'));
    expect(e.code).toBe('FUTURE_VERSION');
    expect(e.message).toContain('the file s.json was saved by a newer playground (session format version 2; this one reads up to 1)');
  });

  it('what is not a session, or is damaged, is refused with BAD_SESSION naming the field', () => {
    const cases: [string, string][] = [
      ['not json', 'it is not JSON'],
      ['{"format":"other","version":1,"entries":[]}', 'its "format" is not'],
      [`{"format":"${SESSION_FORMAT}","version":"1","entries":[]}`, 'no valid "version"'],
      [`{"format":"${SESSION_FORMAT}","version":1}`, 'entries must be an array'],
      [`{"format":"${SESSION_FORMAT}","version":1,"entries":[{"kind":"drop"}]}`, 'entries[0].kind must be "publish" or "call"'],
    ];
    const doc = sampleDocument();
    const call = doc.entries[1] as { timestamp: string; args: string; senderHex: string };
    for (const [field, value, says] of [
      ['timestamp', '12.5', 'entries[1].timestamp must be microseconds'],
      ['timestamp', '9223372036854775808', 'entries[1].timestamp must be microseconds'],
      ['args', '[1,', 'entries[1].args'],
      ['senderHex', 'alice', 'entries[1].senderHex must be an identity'],
    ] as const) {
      const broken = structuredClone(doc);
      (broken.entries[1] as unknown as Record<string, string>)[field] = value;
      cases.push([writeDocument(broken), says]);
    }
    expect(call.args).toBe('["hello 😀"]');
    for (const [text, says] of cases) {
      const e = refusal(() => readDocument(text, 'the file'));
      expect(e.code).toBe('BAD_SESSION');
      expect(e.message).toContain(says);
    }
  });
});

describe('share links', () => {
  it('carry the document compressed in the hash, and read back to the same document', async () => {
    const doc = sampleDocument();
    const url = await shareUrl('https://example.com/play/index.html?x=1#old', doc);
    expect(url.startsWith('https://example.com/play/index.html?x=1#session=')).toBe(true);
    const hash = new URL(url).hash;
    expect(hasSharedSession(hash)).toBe(true);
    expect(hasSharedSession('#other=1')).toBe(false);
    expect(/^#session=[A-Za-z0-9_-]+$/.test(hash)).toBe(true);
    expect(hash.length).toBeLessThan(JSON.stringify(doc).length / 2); // the chat source compresses
    expect(await readShareHash(hash)).toEqual(doc);
    expect(await readShareHash('#nothing')).toBeUndefined();
  });

  it('a damaged or cut link is BAD_LINK; a newer one FUTURE_VERSION; nothing else is thrown', async () => {
    const hash = await shareHash(sampleDocument());
    const future = await shareHash({ ...sampleDocument(), version: 7 as 1 });
    const cases: [string, string][] = [
      [hash.slice(0, Math.floor(hash.length / 2)), 'BAD_LINK'],
      [`${hash.slice(0, 20)}!!${hash.slice(22)}`, 'BAD_LINK'],
      ['#session=AAAA', 'BAD_LINK'],
      ['#session=A', 'BAD_LINK'],
      [future, 'FUTURE_VERSION'],
    ];
    for (const [h, code] of cases) {
      const e = await readShareHash(h).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(SessionError);
      expect((e as SessionError).code).toBe(code);
    }
  });
});

describe('examples menu', () => {
  it('offers chat, bank, todo and notes; each is one file that bundles and runs its first call', async () => {
    const { EXAMPLES } = await import('../demo/playground/session/examples.ts');
    expect(EXAMPLES.map((e) => e.id)).toEqual(['chat', 'bank', 'todo', 'notes']);
    const dir = tempDir('lightcone-examples-');
    for (const ex of EXAMPLES) {
      if (ex.imports.length > 0) continue; // notes imports yjs: its source is the example file itself
      expect(ex.source).not.toMatch(/from '\.\//);
      const file = join(dir, `${ex.id}.ts`);
      writeFileSync(file, ex.source);
      const db = await openDatabase({ name: ex.id, code: (await bundleModule(file)).code });
      try {
        await db.call(ex.tryIt.reducer, ex.tryIt.args);
        const tables = (await db.describe()).tables;
        const rows = await Promise.all(tables.map((t) => db.sql(`SELECT * FROM ${t.name}`)));
        expect(rows.flat().length).toBeGreaterThan(0);
      } finally {
        await db.close();
      }
    }
    expect(EXAMPLES.find((e) => e.id === 'notes')!.source).toBe(readFileSync(join(ROOT, 'examples', 'notes', 'index.ts'), 'utf8'));
  });

  it('the bank, made one file, keeps its schema and refuses a transfer beyond the balance', async () => {
    const { exampleById } = await import('../demo/playground/session/examples.ts');
    const bank = exampleById('bank')!;
    expect(bank.source.match(/^import \{[^}]*\} from 'spacetimedb\/server';$/gm)).toEqual(["import { t, SenderError, schema, table } from 'spacetimedb/server';"]);
    const file = join(tempDir('lightcone-examples-'), 'bank.ts');
    writeFileSync(file, bank.source);
    const db = await openDatabase({ name: 'bank', code: (await bundleModule(file)).code });
    try {
      expect((await db.describe()).tables.map((t) => t.name).sort()).toEqual(['account', 'audit']);
      await db.call('open_account', { id: 1n, owner: 'ann', balance: 10n });
      await db.call('open_account', { id: 2n, owner: 'bob', balance: 0n });
      const err = await db.call('transfer', { from: 1n, to: 2n, amount: 11n }).catch((e: unknown) => e);
      expect((err as Error).message).toBe('Insufficient funds');
    } finally {
      await db.close();
    }
  });
});
