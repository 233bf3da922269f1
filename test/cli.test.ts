// The `lightcone` CLI as a user runs it: each command is its own Node process over a data
// directory given by `--data-dir` or `LIGHTCONE_DATA_DIR`, so data must survive between calls.
// Success prints to stdout and exits 0; failure exits non-zero with the message on stderr.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lightcone, type CliResult } from './helpers/cli.ts';
import { BANK_DIR, CHAT, ROOT, removeTempDirs, tempDir } from './helpers/paths.ts';

afterAll(removeTempDirs);

const HEX64 = /[0-9a-f]{64}/;

/** Asserts a successful run (with the streams in the failure message) and returns stdout. */
function ok(r: CliResult): string {
  expect(r, `stderr: ${r.stderr}`).toMatchObject({ code: 0 });
  return r.stdout;
}

/** Asserts a failed run: non-zero exit, nothing on stdout, a message on stderr. Returns stderr. */
function failed(r: CliResult): string {
  expect(r.code, `stdout: ${r.stdout}`).not.toBe(0);
  expect(r.stderr.trim()).not.toBe('');
  expect(r.stdout).toBe('');
  return r.stderr;
}

/** The identity printed by `publish`. */
function publishedIdentity(stdout: string): string {
  const m = /identity:?\s*(?:0x)?([0-9a-f]{64})/.exec(stdout);
  expect(m, stdout).not.toBeNull();
  return m![1]!;
}

/** Data rows of a `lightcone sql` text table (header and rule dropped), split into trimmed cells. */
function tableRows(stdout: string): string[][] {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const rule = lines.findIndex((l) => /^[-+]+$/.test(l.trim()));
  expect(rule, stdout).toBe(1);
  return lines.slice(rule + 1).map((l) => l.split('|').map((c) => c.trim()));
}

function header(stdout: string): string[] {
  return stdout
    .split('\n')[0]!
    .split('|')
    .map((c) => c.trim());
}

describe('chat through the CLI (--data-dir)', () => {
  let dir: string;
  let dbIdentity: string;
  const d = (): string[] => ['--data-dir', dir];

  beforeAll(async () => {
    dir = tempDir();
    const out = ok(await lightcone(['publish', '--module-path', CHAT, 'chat', ...d()]));
    expect(out).toContain('chat');
    dbIdentity = publishedIdentity(out);
    ok(await lightcone(['call', 'chat', 'set_name', '"Ada"', ...d()]));
    ok(await lightcone(['call', 'chat', 'send_message', '"hello"', ...d()]));
  }, 60_000);

  it('publish names the database and its identity, and stores it under the data directory', async () => {
    expect(dbIdentity).toMatch(HEX64);
    expect(existsSync(join(dir, 'databases', 'chat'))).toBe(true);
    const desc = JSON.parse(ok(await lightcone(['describe', 'chat', '--json', ...d()]))) as { database: string; identity: string };
    expect(desc.database).toBe('chat');
    expect(desc.identity.replace(/^0x/, '')).toBe(dbIdentity);
  });

  it('sql prints a table whose rows hold the message text', async () => {
    const out = ok(await lightcone(['sql', 'chat', 'SELECT * FROM message', ...d()]));
    expect(header(out)).toEqual(['id', 'sender', 'sent', 'text']);
    const rows = tableRows(out);
    expect(rows).toHaveLength(1);
    expect(rows[0]![0]).toBe('1');
    expect(rows[0]![3]).toBe('"hello"');
    const users = tableRows(ok(await lightcone(['sql', 'chat', 'SELECT name FROM user', ...d()])));
    expect(users).toEqual([['"Ada"']]);
  });

  it('sql --json prints an array of row objects keyed by column name, integers as JSON numbers', async () => {
    const out = ok(await lightcone(['sql', 'chat', 'SELECT * FROM message', '--json', ...d()]));
    const rows = JSON.parse(out) as Record<string, unknown>[];
    expect(Array.isArray(rows)).toBe(true);
    expect(rows).toHaveLength(1);
    expect(Object.keys(rows[0]!).sort()).toEqual(['id', 'sender', 'sent', 'text']);
    expect(rows[0]!.text).toBe('hello');
    expect(rows[0]!.id).toBe(1);
    expect(String(rows[0]!.sender)).toMatch(HEX64);
    const users = JSON.parse(ok(await lightcone(['sql', 'chat', 'SELECT name AS who, online FROM user', '--json', ...d()])));
    expect(users).toEqual([{ who: 'Ada', online: false }]);
  });

  it('logs shows the module console output, oldest first', async () => {
    const out = ok(await lightcone(['logs', 'chat', ...d()]));
    const lines = out.split('\n').filter(Boolean);
    const init = lines.findIndex((l) => l.includes('Chat module initialised by'));
    const named = lines.findIndex((l) => l.includes('sets name to Ada'));
    const said = lines.findIndex((l) => /User [0-9a-f]{64}: hello/.test(l));
    expect(init).toBeGreaterThanOrEqual(0);
    expect(named).toBeGreaterThan(init);
    expect(said).toBeGreaterThan(named);
    expect(lines.filter((l) => l.includes('Client connected'))).toHaveLength(2);
  });

  it('logs -n 1 shows only the newest line', async () => {
    const out = ok(await lightcone(['logs', 'chat', '-n', '1', ...d()]));
    const lines = out.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/User [0-9a-f]{64}: hello/);
    const two = ok(await lightcone(['logs', '-n', '2', 'chat', ...d()]))
      .split('\n')
      .filter(Boolean);
    expect(two).toHaveLength(2);
    expect(two[1]).toBe(lines[0]);
  });

  it('describe lists tables, columns and reducers', async () => {
    const out = ok(await lightcone(['describe', 'chat', ...d()]));
    expect(out).toContain('chat');
    expect(out).toMatch(/\buser\b/);
    expect(out).toMatch(/\bmessage\b/);
    expect(out).toMatch(/send_message\(text: string\)/);
    expect(out).toMatch(/set_name\(name: string\)/);
  });

  it('describe --json parses, with tables, columns and reducers', async () => {
    type Desc = {
      tables: { name: string; rows: number; columns: { name: string; type: string }[]; primaryKey?: string }[];
      reducers: { name: string; params: { name: string; type: string }[]; lifecycle?: string | null }[];
    };
    const desc = JSON.parse(ok(await lightcone(['describe', '--json', 'chat', ...d()]))) as Desc;
    expect(desc.tables.map((t) => t.name).sort()).toEqual(['message', 'user']);
    const message = desc.tables.find((t) => t.name === 'message')!;
    expect(message.columns.map((c) => c.name)).toEqual(['id', 'sender', 'sent', 'text']);
    expect(message.primaryKey).toBe('id');
    expect(message.rows).toBe(1);
    const send = desc.reducers.find((r) => r.name === 'send_message')!;
    expect(send.params).toEqual([{ name: 'text', type: 'string' }]);
    expect(desc.reducers.map((r) => r.name)).toEqual(expect.arrayContaining(['set_name', 'send_message', 'init']));
  });

  it('takes options before and after the positionals', async () => {
    ok(await lightcone(['--data-dir', dir, 'call', 'chat', 'send_message', '"before"']));
    ok(await lightcone(['call', 'chat', 'send_message', '"after"', '--data-dir', dir]));
    ok(await lightcone(['call', `--data-dir=${dir}`, 'chat', 'send_message', '"middle"']));
    const rows = JSON.parse(ok(await lightcone(['--json', 'sql', '--data-dir', dir, 'chat', 'SELECT text FROM message']))) as { text: string }[];
    expect(rows.map((r) => r.text).sort()).toEqual(['after', 'before', 'hello', 'middle']);
  });

  it('call --identity acts as another sender', async () => {
    const other = `c200${'ab'.repeat(30)}`;
    ok(await lightcone(['call', 'chat', 'send_message', '"from other"', '--identity', other, ...d()]));
    const rows = JSON.parse(ok(await lightcone(['sql', 'chat', `SELECT text FROM message WHERE sender = 0x${other}`, '--json', ...d()])));
    expect(rows).toEqual([{ text: 'from other' }]);
  });

  it('a SenderError exits non-zero with exactly its text on stderr, and changes nothing', async () => {
    const r = await lightcone(['call', 'chat', 'send_message', '""', ...d()]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe('Messages must not be empty\n');
    expect(r.stdout).toBe('');
    const r2 = await lightcone(['call', 'chat', 'set_name', '""', ...d()]);
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toBe('Names must not be empty\n');
    const rows = JSON.parse(ok(await lightcone(['sql', 'chat', "SELECT text FROM message WHERE text = ''", '--json', ...d()])));
    expect(rows).toEqual([]);
  });

  it('fails on an unknown database', async () => {
    const err = failed(await lightcone(['call', 'nosuchdb', 'send_message', '"x"', ...d()]));
    expect(err).toContain('nosuchdb');
    expect(err).toMatch(/does not exist/);
    expect(existsSync(join(dir, 'databases', 'nosuchdb', 'meta'))).toBe(false);
    failed(await lightcone(['sql', 'nosuchdb', 'SELECT * FROM message', ...d()]));
    failed(await lightcone(['logs', 'nosuchdb', ...d()]));
    failed(await lightcone(['describe', 'nosuchdb', ...d()]));
    // Failing to open it did not create it: `list` shows chat only, and a later call still fails.
    const list = ok(await lightcone(['list', ...d()]));
    expect(list).toMatch(/\bchat\b/);
    expect(list).not.toContain('nosuchdb');
    expect(failed(await lightcone(['call', 'nosuchdb', 'send_message', '"x"', ...d()]))).toMatch(/does not exist/);
  });

  it('fails on an unknown reducer, naming it', async () => {
    const err = failed(await lightcone(['call', 'chat', 'no_such_reducer', ...d()]));
    expect(err).toContain('no_such_reducer');
    expect(err).toContain('send_message');
  });

  it('fails on an argument that is not JSON', async () => {
    const err = failed(await lightcone(['call', 'chat', 'send_message', 'hello', ...d()]));
    expect(err).toMatch(/JSON/);
    const err2 = failed(await lightcone(['call', 'chat', 'send_message', '{"text":', ...d()]));
    expect(err2).toMatch(/JSON/);
  });

  it('fails on a wrong number of arguments', async () => {
    const err = failed(await lightcone(['call', 'chat', 'send_message', ...d()]));
    expect(err).toMatch(/send_message/);
    expect(err).toMatch(/1 argument/);
    const err2 = failed(await lightcone(['call', 'chat', 'send_message', '"a"', '"b"', ...d()]));
    expect(err2).toMatch(/send_message/);
  });

  it('fails on an argument of the wrong type', async () => {
    const err = failed(await lightcone(['call', 'chat', 'send_message', '42', ...d()]));
    expect(err).toMatch(/string/);
  });

  it('fails on SQL that does not parse, with the position', async () => {
    const err = failed(await lightcone(['sql', 'chat', 'SELEC * FROM message', ...d()]));
    expect(err).toMatch(/1:1/);
    const err2 = failed(await lightcone(['sql', 'chat', 'SELECT * FROM message WHERE', ...d()]));
    expect(err2).toMatch(/1:28/);
  });

  it('fails on SQL naming an unknown table or an unsupported construct', async () => {
    expect(failed(await lightcone(['sql', 'chat', 'SELECT * FROM nope', ...d()]))).toContain('nope');
    expect(failed(await lightcone(['sql', 'chat', 'SELECT * FROM message ORDER BY id', ...d()]))).toContain('ORDER BY');
  });

  it('fails on publish without --module-path, or with a module that does not exist', async () => {
    const err = failed(await lightcone(['publish', 'chat2', ...d()]));
    expect(err).toContain('--module-path');
    failed(await lightcone(['publish', '--module-path', join(dir, 'missing.ts'), 'chat3', ...d()]));
    expect(existsSync(join(dir, 'databases', 'chat3', 'meta'))).toBe(false);
  });

  it('sql runs DML as the owner, prints what changed, and the change persists', async () => {
    const out = ok(await lightcone(['sql', 'chat', "UPDATE message SET text = 'edited' WHERE text = 'hello'", ...d()]));
    expect(out).toMatch(/1 row updated/);
    const rows = tableRows(ok(await lightcone(['sql', 'chat', "SELECT id, text FROM message WHERE text = 'edited'", ...d()])));
    expect(rows).toEqual([['1', '"edited"']]);
    const other = `c200${'ef'.repeat(30)}`;
    const err = failed(await lightcone(['sql', 'chat', 'DELETE FROM message', '--identity', other, ...d()]));
    expect(err).toMatch(/owner/);
    expect(tableRows(ok(await lightcone(['sql', 'chat', "SELECT id FROM message WHERE text = 'edited'", ...d()])))).toEqual([['1']]);
  });

  it('fails on SQL past the limits of SQLite with a named error and no stack trace', async () => {
    const q = `SELECT * FROM message WHERE ${Array.from({ length: 5000 }, (_, i) => `id = ${i}`).join(' OR ')}`;
    const err = failed(await lightcone(['sql', 'chat', q, ...d()]));
    expect(err).toMatch(/^error: the query is too large to run: .*split it/i);
    expect(err).not.toMatch(/^\s+at /m);
  });

  it('an unexpected failure prints one short line; the stack only with LIGHTCONE_DEBUG=1', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'not a directory');
    const err = failed(await lightcone(['call', 'chat', 'send_message', '"x"', '--data-dir', file]));
    expect(err).toMatch(/^error: /);
    expect(err).not.toMatch(/^\s+at /m);
    expect(err).toContain('LIGHTCONE_DEBUG=1');
    const debug = failed(await lightcone(['call', 'chat', 'send_message', '"x"', '--data-dir', file], { env: { LIGHTCONE_DEBUG: '1' } }));
    expect(debug).toMatch(/^\s+at /m);
  });

  it('fails on a bad database name and on an unknown option', async () => {
    failed(await lightcone(['call', '../evil', 'send_message', '"x"', ...d()]));
    failed(await lightcone(['call', 'chat', 'send_message', '"x"', '--no-such-option', ...d()]));
  });
});

describe('publishing again (LIGHTCONE_DATA_DIR)', () => {
  it('re-publishing the unchanged module is a no-op that keeps data and identity', async () => {
    const env = { LIGHTCONE_DATA_DIR: tempDir() };
    const first = ok(await lightcone(['publish', '--module-path', CHAT, 'chat'], { env }));
    const id = publishedIdentity(first);
    ok(await lightcone(['call', 'chat', 'set_name', '"Grace"'], { env }));
    ok(await lightcone(['call', 'chat', 'send_message', '"kept"'], { env }));
    const again = ok(await lightcone(['publish', '--module-path', CHAT, 'chat'], { env }));
    expect(publishedIdentity(again)).toBe(id);
    expect(again).not.toMatch(/Created/i);
    const rows = JSON.parse(ok(await lightcone(['sql', 'chat', 'SELECT text FROM message', '--json'], { env })));
    expect(rows).toEqual([{ text: 'kept' }]);
    // init ran once only.
    const logs = ok(await lightcone(['logs', 'chat'], { env }));
    expect(logs.split('\n').filter((l) => l.includes('Chat module initialised'))).toHaveLength(1);
  });

  it('publish -c --yes deletes the data and publishes anew (init runs again)', async () => {
    const env = { LIGHTCONE_DATA_DIR: tempDir() };
    const id = publishedIdentity(ok(await lightcone(['publish', '--module-path', CHAT, 'chat'], { env })));
    ok(await lightcone(['call', 'chat', 'set_name', '"Grace"'], { env }));
    ok(await lightcone(['call', 'chat', 'send_message', '"gone"'], { env }));
    const out = ok(await lightcone(['publish', '-c', '--yes', '--module-path', CHAT, 'chat'], { env }));
    expect(out).toContain('chat');
    expect(publishedIdentity(out)).toMatch(HEX64);
    void id;
    const msgs = JSON.parse(ok(await lightcone(['sql', 'chat', 'SELECT * FROM message', '--json'], { env })));
    expect(msgs).toEqual([]);
    const users = JSON.parse(ok(await lightcone(['sql', 'chat', 'SELECT * FROM user', '--json'], { env })));
    expect(users).toEqual([]);
    // --delete-data, the long form, after the positional.
    ok(await lightcone(['call', 'chat', 'send_message', '"again"'], { env }));
    ok(await lightcone(['publish', 'chat', '--module-path', CHAT, '--delete-data', '-y'], { env }));
    expect(JSON.parse(ok(await lightcone(['sql', 'chat', 'SELECT * FROM message', '--json'], { env })))).toEqual([]);
  });

  it('LIGHTCONE_DATA_DIR and --data-dir name the same place; --data-dir wins', async () => {
    const a = tempDir();
    const b = tempDir();
    ok(await lightcone(['publish', '--module-path', CHAT, 'chat'], { env: { LIGHTCONE_DATA_DIR: a } }));
    ok(await lightcone(['call', 'chat', 'send_message', '"in a"', '--data-dir', a]));
    expect(existsSync(join(b, 'databases', 'chat'))).toBe(false);
    failed(await lightcone(['sql', 'chat', 'SELECT * FROM message', '--data-dir', b], { env: { LIGHTCONE_DATA_DIR: a } }));
    const rows = JSON.parse(ok(await lightcone(['sql', 'chat', 'SELECT text FROM message', '--json'], { env: { LIGHTCONE_DATA_DIR: a } })));
    expect(rows).toEqual([{ text: 'in a' }]);
  });
});

describe('bank, a two-file module published from its folder', () => {
  let env: Record<string, string>;

  beforeAll(async () => {
    env = { LIGHTCONE_DATA_DIR: tempDir() };
    const out = ok(await lightcone(['publish', '--module-path', BANK_DIR, 'bank'], { env }));
    expect(out).toContain('bank');
    publishedIdentity(out);
  }, 60_000);

  it('runs reducers from index.ts over tables from schema.ts', async () => {
    ok(await lightcone(['call', 'bank', 'open_account', '10', '"alice"', '100'], { env }));
    ok(await lightcone(['call', 'bank', 'open_account', '11', '"bob"', '5'], { env }));
    ok(await lightcone(['call', 'bank', 'transfer', '10', '11', '30'], { env }));
    const rows = tableRows(ok(await lightcone(['sql', 'bank', 'SELECT id, owner, balance FROM account WHERE id >= 10 AND id <= 11'], { env })));
    expect(rows.sort()).toEqual([
      ['10', '"alice"', '70'],
      ['11', '"bob"', '35'],
    ]);
    const audit = tableRows(ok(await lightcone(['sql', 'bank', 'SELECT from_id, to_id, amount FROM audit'], { env })));
    expect(audit).toEqual([['10', '11', '30']]);
    const r = await lightcone(['call', 'bank', 'transfer', '10', '11', '1000'], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe('Insufficient funds\n');
  });

  it('keeps a u64 argument beyond 2^53 exact (18446744073709551615)', async () => {
    ok(await lightcone(['call', 'bank', 'open_account', '1', '"x"', '18446744073709551615'], { env }));
    const table = ok(await lightcone(['sql', 'bank', 'SELECT * FROM account WHERE id = 1'], { env }));
    expect(tableRows(table)).toEqual([['1', '"x"', '18446744073709551615']]);
    const json = ok(await lightcone(['sql', 'bank', 'SELECT balance FROM account WHERE id = 1', '--json'], { env }));
    expect(json).toMatch(/"balance":\s*18446744073709551615\b/);
    // One more would overflow: the module refuses it.
    const r = await lightcone(['call', 'bank', 'deposit', '1', '1'], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe('Balance overflow\n');
  });

  it('keeps u64 values just above 2^53 exact (9007199254740993, which a double rounds)', async () => {
    ok(await lightcone(['call', 'bank', 'open_account', '9007199254740993', '"big id"', '9007199254740993'], { env }));
    const json = ok(await lightcone(['sql', 'bank', 'SELECT id, balance FROM account WHERE id = 9007199254740993', '--json'], { env }));
    expect(json).toMatch(/"id":\s*9007199254740993\b/);
    expect(json).toMatch(/"balance":\s*9007199254740993\b/);
  });
});

describe('edge values through the CLI (test/fixtures/edge-values.ts)', () => {
  let env: Record<string, string>;

  beforeAll(async () => {
    env = { LIGHTCONE_DATA_DIR: tempDir() };
    ok(await lightcone(['publish', '--module-path', join(ROOT, 'test', 'fixtures', 'edge-values.ts'), 'edge'], { env }));
  }, 60_000);

  it('string arguments that look like big-integer markers arrive and print unchanged', async () => {
    const strings = ['\u0000big:123', 'x:12345678901234567}', '{"n":12345678901234567}'];
    for (const s of strings) ok(await lightcone(['call', 'edge', 'say', JSON.stringify(s), '18446744073709551615'], { env }));
    const json = ok(await lightcone(['sql', 'edge', 'SELECT s, n FROM text', '--json'], { env }));
    expect((JSON.parse(json) as { s: string }[]).map((r) => r.s)).toEqual(strings);
    expect(json.match(/"n": 18446744073709551615\b/g)).toHaveLength(3);
    expect(tableRows(ok(await lightcone(['sql', 'edge', 'SELECT s, n FROM text'], { env })))).toEqual(strings.map((s) => [JSON.stringify(s), '18446744073709551615']));
  });

  it('i64 extremes of Timestamp arguments go in exactly and print as ISO text beyond JS Date', async () => {
    ok(await lightcone(['call', 'edge', 'stamp', '9223372036854775807', '-9223372036854775808', '{"Time": -9223372036854775808}'], { env }));
    const rows = tableRows(ok(await lightcone(['sql', 'edge', 'SELECT * FROM moment'], { env })));
    expect(rows).toEqual([['1', '+294247-01-10T04:00:54.775807Z', '-9223372036854775808µs', '{"Time":"-290308-12-21T19:59:05.224192Z"}']]);
    const r = await lightcone(['call', 'edge', 'stamp', '9223372036854775808', '0', '{"Time": 0}'], { env });
    expect(failed(r)).toMatch(/argument at: expected Timestamp, got 9223372036854775808n \(out of range/);
  });
});
